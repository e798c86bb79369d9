"""Agencies: national units, NCBs, the General Secretariat, private partners."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInputError
from app.models import Agency, Country
from app.models.enums import AgencyKind


async def create_agency(
    session: AsyncSession, *, country: str, kind: AgencyKind, name: str
) -> Agency:
    if await session.get(Country, country) is None:
        raise InvalidInputError(f"country {country!r} is not a country of the network")
    agency = Agency(country_code=country, kind=kind, name=name)
    session.add(agency)
    await session.flush()
    return agency


async def find_agency(session: AsyncSession, *, country: str, name: str) -> Agency | None:
    agency: Agency | None = await session.scalar(
        select(Agency).where(Agency.country_code == country, Agency.name == name)
    )
    return agency
