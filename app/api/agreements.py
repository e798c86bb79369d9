"""/v1/agreements: access agreements, an NCB's grants to its country's agencies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.api.preconditions import IfMatch, with_etag
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import CountryCode, Text
from app.directory import agreements as agreement_service
from app.directory.agreement_schemas import (
    AgreementChange,
    AgreementCreate,
    AgreementOut,
    AgreementPage,
)

router = APIRouter(prefix="/v1/agreements", tags=["directory"])


def _tagged(agreement: AgreementOut, response: Response) -> AgreementOut:
    response.headers["ETag"] = agreement.etag
    return agreement


@router.get("", response_model=AgreementPage)
async def list_agreements(
    session: Session,
    actor: CurrentActor,
    agency_id: uuid.UUID | None = None,
    country: CountryCode | None = None,
    active: Annotated[
        bool | None, Query(description="true: in force now; false: scheduled, expired or ended")
    ] = None,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AgreementPage:
    """The agreements you may see, newest first: a unit its own agency's, an NCB its
    country's, the global desk and auditors all."""
    filters = agreement_service.AgreementFilter(agency_id=agency_id, country=country, active=active)
    return await agreement_service.list_agreements(
        session, actor, filters, cursor=cursor, limit=limit
    )


@router.post(
    "",
    status_code=201,
    response_model=AgreementOut,
    responses={**with_etag(201), **problems.responses(403)},
)
async def grant_agreement(
    body: AgreementCreate, session: Session, actor: CurrentActor, response: Response
) -> AgreementOut:
    """Grant an agency of your country (a unit or a partner) the right to send requests,
    within a scope. The global desk may grant for any country."""
    granted = await agreement_service.grant(session, actor, body)
    response.headers["Location"] = f"/v1/agreements/{granted.id}"
    return _tagged(granted, response)


@router.get(
    "/{agreement_id}",
    response_model=AgreementOut,
    responses={**with_etag(), **problems.responses(404)},
)
async def get_agreement(
    agreement_id: uuid.UUID, session: Session, actor: CurrentActor, response: Response
) -> AgreementOut:
    return _tagged(await agreement_service.get_agreement(session, actor, agreement_id), response)


@router.patch(
    "/{agreement_id}",
    response_model=AgreementOut,
    responses={**with_etag(), **problems.responses(403, 404, 409, 412)},
)
async def change_agreement(
    agreement_id: uuid.UUID,
    body: AgreementChange,
    session: Session,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> AgreementOut:
    """Change an agreement's scope, end date or conditions. An ended one cannot change (409)."""
    changed = await agreement_service.change(session, actor, agreement_id, body, if_match=if_match)
    return _tagged(changed, response)


@router.post(
    "/{agreement_id}/end",
    response_model=AgreementOut,
    responses={**with_etag(), **problems.responses(403, 404, 409)},
)
async def end_agreement(
    agreement_id: uuid.UUID, session: Session, actor: CurrentActor, response: Response
) -> AgreementOut:
    """End an agreement now; ending it again is a 409. Requests already sent are untouched."""
    return _tagged(await agreement_service.end(session, actor, agreement_id), response)
