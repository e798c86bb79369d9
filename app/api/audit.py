"""/v1/audit: the trail for auditors (entries; exports), and what anyone holding a
checkpoint or a receipt needs to verify it (the public keys)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.audit import entries, keys
from app.audit.query import AuditFilter
from app.audit.schemas import AuditEntryPage, AuditPublicKeyList
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import CountryCode, Instant, Text

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def _filters(
    since: Annotated[Instant | None, Query(description="Occurred at or after.")] = None,
    until: Annotated[Instant | None, Query(description="Occurred before.")] = None,
    country: Annotated[
        CountryCode | None,
        Query(description="Entries concerning this country (a national auditor: its own only)."),
    ] = None,
    agency_id: Annotated[uuid.UUID | None, Query(description="Done by this agency.")] = None,
    principal_id: Annotated[uuid.UUID | None, Query(description="Done by this principal.")] = None,
    request_id: Annotated[
        uuid.UUID | None, Query(description="About this request, its messages and its files.")
    ] = None,
    action: Annotated[
        Annotated[str, Text(min_length=1, max_length=64, pattern=r"^[a-z_]+(\.[a-z_]+)*$")] | None,
        Query(description="One action, e.g. `request.read`."),
    ] = None,
) -> AuditFilter:
    return AuditFilter(
        since=since,
        until=until,
        country=country,
        agency_id=agency_id,
        principal_id=principal_id,
        request_id=request_id,
        action=action,
    )


# The filters of every read of the trail (the entries list, exports), as query parameters.
AuditFilters = Annotated[AuditFilter, Depends(_filters)]


@router.get("/entries", response_model=AuditEntryPage, responses=problems.responses(403))
async def list_entries(
    session: Session,
    actor: CurrentActor,
    filters: AuditFilters,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    order: Annotated[
        Literal["oldest", "newest"],
        Query(
            description="`oldest` (the default) follows the chain; `newest` starts with what "
            "is not sealed yet, then goes back along the chain (its cursor goes on backwards)."
        ),
    ] = "oldest",
) -> AuditEntryPage:
    """The audit trail, for auditors: a network-wide auditor sees every entry, a national
    auditor those concerning its country (asking for another country is refused). Each read
    is itself audited (`audit.listed`)."""
    return await entries.list_entries(
        session, actor, filters, cursor=cursor, limit=limit, newest_first=order == "newest"
    )


@router.get("/public-keys", response_model=AuditPublicKeyList)
async def list_public_keys(session: Session, actor: CurrentActor) -> AuditPublicKeyList:
    """The public keys the service signs audit checkpoints with, retired ones included, each
    with its validity: a checkpoint is valid under the key its `key_id` names if it was signed
    within the key's validity. Any authenticated principal may read them: nothing here
    belongs to a country or an agency (docs/audit-chain.md says why not the unauthenticated)."""
    return await keys.published_keys(session)
