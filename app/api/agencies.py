"""/v1/agencies: the agencies of the network. Everyone reads the directory; an NCB adds
agencies of its country, the General Secretariat and admins any (a gs agency only they)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import CountryCode, Text
from app.directory import agencies
from app.directory.people_schemas import AgencyCreate, AgencyOut, AgencyPage
from app.models.enums import AgencyKind

router = APIRouter(prefix="/v1/agencies", tags=["directory"])


@router.get("", response_model=AgencyPage)
async def list_agencies(
    session: Session,
    actor: CurrentActor,
    country: CountryCode | None = None,
    kind: AgencyKind | None = None,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AgencyPage:
    """Agencies, newest first, optionally of one country or kind."""
    return await agencies.list_agencies(
        session, actor, country=country, kind=kind, cursor=cursor, limit=limit
    )


@router.get("/{agency_id}", response_model=AgencyOut, responses=problems.responses(404))
async def get_agency(agency_id: uuid.UUID, session: Session, actor: CurrentActor) -> AgencyOut:
    return await agencies.get(session, actor, agency_id)


@router.post("", status_code=201, response_model=AgencyOut, responses=problems.responses(403, 409))
async def add_agency(
    body: AgencyCreate, session: Session, actor: CurrentActor, response: Response
) -> AgencyOut:
    """Add an agency to a country of the network. Its name is unique in its country (409)."""
    agency = await agencies.add(session, actor, body)
    response.headers["Location"] = f"/v1/agencies/{agency.id}"
    return agency
