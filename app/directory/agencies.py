"""Agencies: national units, NCBs, the General Secretariat, private partners.

The functions that change something take an ``actor``: the principal calling the API, whom
app/identity/policy.py must allow, or None for an operator at the command line, who holds the
database itself. Either way the change is audited in its transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.directory.people_schemas import AgencyCreate, AgencyOut, AgencyPage
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, Country
from app.models.enums import AgencyKind

OBJECT_TYPE = "agency"


def view(agency: Agency) -> AgencyOut:
    return AgencyOut(
        id=agency.id,
        country=agency.country_code,
        kind=agency.kind,
        name=agency.name,
        created_at=agency.created_at,
    )


async def create_agency(
    session: AsyncSession,
    *,
    country: str,
    kind: AgencyKind,
    name: str,
    actor: Actor | None = None,
) -> Agency:
    # Asked of the agency to be, so that it is the model's rule (Agency.owner_country) that
    # keeps an NCB from making a General Secretariat.
    agency = Agency(country_code=country, kind=kind, name=name)
    if actor is not None:
        policy.require(actor, policy.Action.MANAGE_AGENCIES, agency)
    if await session.get(Country, country) is None:
        raise InvalidInputError(f"{country!r} is not a country of the network", field="country")
    if await find_agency(session, country=country, name=name) is not None:
        raise ConflictError(f"name: {country} already has an agency named {name!r}")
    session.add(agency)
    await session.flush()
    await audit.record(
        session,
        actor,
        "agency.created",
        object_type=OBJECT_TYPE,
        object_id=str(agency.id),
        countries=(agency.owner_country,),
        details={"country": country, "kind": kind.value, "name": name},
    )
    return agency


async def find_agency(session: AsyncSession, *, country: str, name: str) -> Agency | None:
    agency: Agency | None = await session.scalar(
        select(Agency).where(Agency.country_code == country, Agency.name == name)
    )
    return agency


# --- the API's use cases --------------------------------------------------------------------


async def add(session: AsyncSession, actor: Actor, draft: AgencyCreate) -> AgencyOut:
    agency = await create_agency(
        session, country=draft.country, kind=draft.kind, name=draft.name, actor=actor
    )
    return view(agency)


async def get(session: AsyncSession, actor: Actor, agency_id: uuid.UUID) -> AgencyOut:
    agency = await session.scalar(select(Agency).where(Agency.id == agency_id, _readable(actor)))
    if agency is None:
        raise NotFoundError(f"no agency {agency_id}")
    return view(agency)


async def list_agencies(
    session: AsyncSession,
    actor: Actor,
    *,
    country: str | None,
    kind: AgencyKind | None,
    cursor: str | None,
    limit: int,
) -> AgencyPage:
    query = select(Agency).where(_readable(actor))
    if country is not None:
        query = query.where(Agency.country_code == country)
    if kind is not None:
        query = query.where(Agency.kind == kind)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(
            tuple_(Agency.created_at, Agency.id) < tuple_(after.created_at, after.id)
        )
    query = query.order_by(Agency.created_at.desc(), Agency.id.desc()).limit(limit + 1)
    rows = list(await session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
    return AgencyPage(items=[view(agency) for agency in page], next_cursor=next_cursor)


def _readable(actor: Actor) -> ColumnElement[bool]:
    return policy.where(actor, policy.Action.READ_DIRECTORY, Agency)
