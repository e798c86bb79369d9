"""/v1/principals: the people, desks and systems of the network, and their tokens.

Who sees whom and who manages whom is app/identity/policy.py's (READ_PEOPLE, MANAGE_PRINCIPALS,
MANAGE_TOKENS): a principal one may not see is a 404, one seen but not managed a 403.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.api.tokens import NO_STORE, issued_response
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import CountryCode, Text
from app.directory import principals
from app.directory.people_schemas import (
    PrincipalChange,
    PrincipalCreate,
    PrincipalOut,
    PrincipalPage,
    TokenCreate,
    TokenIssued,
    TokenPage,
)
from app.identity import tokens
from app.models.enums import Role

router = APIRouter(prefix="/v1/principals", tags=["directory"])

Cursor = Annotated[Annotated[str, Text(max_length=512)] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("", response_model=PrincipalPage)
async def list_principals(
    session: Session,
    actor: CurrentActor,
    country: CountryCode | None = None,
    agency_id: uuid.UUID | None = None,
    role: Role | None = None,
    include_disabled: bool = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PrincipalPage:
    """The principals you may see (your own country's for an NCB or a desk, yourself for the
    others, all for the General Secretariat), newest first; disabled ones on request."""
    filters = principals.PrincipalFilter(
        country=country, agency_id=agency_id, role=role, include_disabled=include_disabled
    )
    return await principals.list_principals(session, actor, filters, cursor=cursor, limit=limit)


@router.post("", status_code=201, response_model=PrincipalOut, responses=problems.responses(403))
async def add_principal(
    body: PrincipalCreate, session: Session, actor: CurrentActor, response: Response
) -> PrincipalOut:
    """Add a principal to an agency. The role must fit the agency's kind (422) and be one you
    may give (403): an NCB staffs its own country's units and NCB, the General Secretariat
    the network, and only an admin makes admins. Give it a token with
    `POST /v1/principals/{id}/tokens`."""
    principal = await principals.add(session, actor, body)
    response.headers["Location"] = f"/v1/principals/{principal.id}"
    return principal


@router.get("/{principal_id}", response_model=PrincipalOut, responses=problems.responses(404))
async def get_principal(
    principal_id: uuid.UUID, session: Session, actor: CurrentActor
) -> PrincipalOut:
    return await principals.get(session, actor, principal_id)


@router.patch(
    "/{principal_id}", response_model=PrincipalOut, responses=problems.responses(403, 404)
)
async def change_principal(
    principal_id: uuid.UUID, body: PrincipalChange, session: Session, actor: CurrentActor
) -> PrincipalOut:
    """Change a principal's name, e-mail or phone (`null` removes an e-mail or phone)."""
    return await principals.change(session, actor, principal_id, body)


@router.post(
    "/{principal_id}/disable",
    response_model=PrincipalOut,
    responses=problems.responses(403, 404, 409),
)
async def disable_principal(
    principal_id: uuid.UUID, session: Session, actor: CurrentActor
) -> PrincipalOut:
    """Disable a principal: every token of it stops at once, on REST and on the sockets of
    every instance (closed with 4001 within RELAY247_TOKEN_CHECK_INTERVAL). Its history stays.
    Idempotent. You cannot disable yourself (409)."""
    return await principals.set_disabled(session, actor, principal_id, disabled=True)


@router.post(
    "/{principal_id}/enable", response_model=PrincipalOut, responses=problems.responses(403, 404)
)
async def enable_principal(
    principal_id: uuid.UUID, session: Session, actor: CurrentActor
) -> PrincipalOut:
    """Enable a principal again: its tokens that are neither revoked nor expired work again
    (revoke them first if they may have leaked meanwhile). Idempotent."""
    return await principals.set_disabled(session, actor, principal_id, disabled=False)


@router.get(
    "/{principal_id}/tokens", response_model=TokenPage, responses=problems.responses(403, 404)
)
async def list_tokens(
    principal_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> TokenPage:
    """A principal's tokens, newest first, revoked and expired ones included: prefix, label,
    state and times, never the token."""
    return await tokens.list_for_principal(session, actor, principal_id, cursor=cursor, limit=limit)


@router.post(
    "/{principal_id}/tokens",
    status_code=201,
    response_model=TokenIssued,
    responses={**problems.responses(403, 404, 409), **issued_response()},
)
async def create_token(
    principal_id: uuid.UUID,
    body: TokenCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> TokenIssued:
    """A new token for the principal, shown in this answer only (`Cache-Control: no-store`).
    A disabled principal gets none (409). A dashboard session may not make one (403): it would
    outlive the session; call with your own token."""
    response.headers.update(NO_STORE)
    return await tokens.create(session, actor, principal_id, body)
