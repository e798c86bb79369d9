"""Naming the people a request's page shows (authors, actors, whom an escalation reached, the
sender): by name and phone only where the reader may see that person (the rule of GET
/v1/principals, app/identity/policy.py `see people`), else by role, agency and country.

One query for any number of people, so a thread or a history of any length costs the same."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.directory import principals
from app.identity.auth import Actor
from app.models import Agency, Principal
from app.models.enums import AgencyKind, Role


class PersonRef(BaseModel):
    """A person as the reader may know them."""

    id: uuid.UUID = Field(description="The principal's id")
    role: Role = Field(description="What it acts as: contact_point, ncb, unit, gs...")
    agency_id: uuid.UUID = Field(description="The agency it acts for")
    agency_name: str = Field(description="That agency's name (agencies are public)")
    agency_kind: AgencyKind = Field(description="unit, ncb, gs or partner")
    country: str | None = Field(
        description="Its agency's country; null for the General Secretariat, which belongs to none"
    )
    name: str | None = Field(
        description="Null where you may not see the person (as GET /v1/principals): the role, "
        "agency and country say who it was"
    )
    phone: str | None = Field(description="Shown with the name, where the person has one")


async def describe(
    session: AsyncSession, actor: Actor, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, PersonRef]:
    """Each of these people (None skipped), as the actor may know them, by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            Principal.id,
            Principal.role,
            Principal.name,
            Principal.phone,
            Agency.id.label("agency_id"),
            Agency.name.label("agency_name"),
            Agency.kind.label("agency_kind"),
            Agency.owner_country.label("country"),
            principals.visible_to(actor).label("shows_name"),
        )
        .join(Agency, Agency.id == Principal.agency_id)
        .where(Principal.id.in_(wanted))
    )
    return {
        row.id: PersonRef(
            id=row.id,
            role=row.role,
            agency_id=row.agency_id,
            agency_name=row.agency_name,
            agency_kind=row.agency_kind,
            country=row.country,
            name=row.name if row.shows_name else None,
            phone=row.phone if row.shows_name else None,
        )
        for row in rows
    }
