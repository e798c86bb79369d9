"""/v1/countries: the countries of the network and their contact-point profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.primitives import CountryCode
from app.directory import countries as country_service
from app.directory.country_schemas import (
    CountryCreate,
    CountryDetail,
    CountryList,
    CountryOut,
    CountryProfileChange,
)

router = APIRouter(prefix="/v1/countries", tags=["directory"])

CountryPath = Annotated[CountryCode, Path(description="ISO 3166-1 alpha-2, upper case")]


@router.get("", response_model=CountryList)
async def list_countries(session: Session, actor: CurrentActor) -> CountryList:
    """Every country of the network with its profile. Desk phone and e-mail are shown to
    contact points, NCBs, the global desk and admins; null for others."""
    return await country_service.list_countries(session, actor)


@router.post("", status_code=201, response_model=CountryOut, responses=problems.responses(403, 409))
async def add_country(
    body: CountryCreate, session: Session, actor: CurrentActor, response: Response
) -> CountryOut:
    """Add a country to the network (the global desk, admins). 409 if it is already in it."""
    added = await country_service.add_country(session, actor, body)
    response.headers["Location"] = f"/v1/countries/{added.code}"
    return added


@router.get("/{cc}", response_model=CountryDetail, responses=problems.responses(404))
async def get_country(cc: CountryPath, session: Session, actor: CurrentActor) -> CountryDetail:
    """A country's profile and agencies; its contact points for those who may see its people
    (its own contact points and NCB, the global desk, admins), else `contact_points` is null."""
    return await country_service.get_country(session, actor, cc)


@router.patch("/{cc}", response_model=CountryOut, responses=problems.responses(403, 404))
async def change_country_profile(
    cc: CountryPath, body: CountryProfileChange, session: Session, actor: CurrentActor
) -> CountryOut:
    """Change a country's profile (its NCB, or the global desk). Fields left out are kept."""
    return await country_service.change_profile(session, actor, cc, body)
