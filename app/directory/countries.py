"""Countries of the network and their contact-point profiles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.directory.country_schemas import (
    AgencyBrief,
    ContactPointOut,
    CountryCreate,
    CountryDetail,
    CountryList,
    CountryOut,
    CountryProfileChange,
    disjoint_types_message,
)
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, Country, Principal
from app.models.enums import RequestType, Role
from app.rosters import views as rosters

OBJECT_TYPE = "country"


async def ensure_country(session: AsyncSession, code: str, name: str) -> None:
    await session.execute(insert(Country).values(code=code, name=name).on_conflict_do_nothing())


def owner_of(code: str) -> policy.Owner:
    return policy.Owner(country=code)


def _view(country: Country, actor: Actor) -> dict[str, Any]:
    sees_desk = policy.permits(actor, policy.Action.READ_DESK_CONTACTS, owner_of(country.code))
    return {
        "code": country.code,
        "name": country.name,
        "time_zone": country.time_zone,
        "languages": country.languages,
        "direct_types": country.direct_types,
        "mla_types": country.mla_types,
        "desk_phone": country.desk_phone if sees_desk else None,
        "desk_email": country.desk_email if sees_desk else None,
        "notes": country.notes,
        "four_eyes": country.four_eyes,
        "updated_at": country.updated_at,
    }


async def list_countries(session: AsyncSession, actor: Actor) -> CountryList:
    policy.require(actor, policy.Action.READ_DIRECTORY)
    countries = await session.scalars(select(Country).order_by(Country.code))
    return CountryList(items=[CountryOut.model_validate(_view(c, actor)) for c in countries])


async def get_country(session: AsyncSession, actor: Actor, code: str) -> CountryDetail:
    policy.require(actor, policy.Action.READ_DIRECTORY, owner_of(code))
    country = await session.get(Country, code)
    if country is None:
        raise NotFoundError(f"{code} is not a country of the network")
    agencies = await session.execute(
        select(Agency.id, Agency.name, Agency.kind)
        .where(Agency.country_code == code)
        .order_by(Agency.kind, Agency.name)
    )
    contact_points: list[ContactPointOut] | None = None
    if policy.permits(actor, policy.Action.READ_PEOPLE, owner_of(code)):
        people = await session.execute(
            select(Principal.id, Principal.name, Principal.email, Principal.phone)
            .add_columns(Principal.disabled_at.is_not(None).label("disabled"))
            .join(Agency, Agency.id == Principal.agency_id)
            .where(Agency.country_code == code, Principal.role == Role.CONTACT_POINT)
            .order_by(Principal.name, Principal.id)
        )
        contact_points = [ContactPointOut.model_validate(row._asdict()) for row in people]
    on_duty = await rosters.resolve_on_duty(session, code, at=None)
    return CountryDetail.model_validate(
        {
            **_view(country, actor),
            "agencies": [AgencyBrief.model_validate(row._asdict()) for row in agencies],
            "contact_points": contact_points,
            "staffed_now": {
                "primary": on_duty.primary is not None,
                "backup": on_duty.backup is not None,
            },
            "on_duty": on_duty
            if policy.permits(actor, policy.Action.READ_ROSTER, owner_of(code))
            else None,
        }
    )


async def add_country(session: AsyncSession, actor: Actor, draft: CountryCreate) -> CountryOut:
    policy.require(actor, policy.Action.ADD_COUNTRY, policy.NETWORK)
    # The primary key decides a race between two adds; the loser gets the 409 too.
    added = await session.scalar(
        insert(Country)
        .values(code=draft.code, name=draft.name, time_zone=draft.time_zone)
        .on_conflict_do_nothing()
        .returning(Country)
    )
    if added is None:
        raise ConflictError(f"{draft.code} is already a country of the network")
    await audit.record(
        session,
        actor,
        "country.added",
        object_type=OBJECT_TYPE,
        object_id=draft.code,
        countries=(draft.code,),
        details={"name": draft.name, "time_zone": draft.time_zone},
    )
    return CountryOut.model_validate(_view(added, actor))


def _stored(value: Any) -> Any:
    """Enum lists as the text arrays the columns hold."""
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


async def change_profile(
    session: AsyncSession, actor: Actor, code: str, change: CountryProfileChange
) -> CountryOut:
    policy.require(actor, policy.Action.READ_DIRECTORY, owner_of(code))
    found = (
        await session.execute(
            select(Country, func.now()).where(Country.code == code).with_for_update(of=Country)
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"{code} is not a country of the network")
    country, now = found
    policy.require(actor, policy.Action.MANAGE_COUNTRY, owner_of(code))

    wanted = {name: _stored(value) for name, value in change.changes().items()}
    direct = set(wanted.get("direct_types", country.direct_types))
    mla = set(wanted.get("mla_types", country.mla_types))
    if direct & mla:
        raise InvalidInputError(disjoint_types_message({RequestType(t) for t in direct & mla}))

    changed = sorted(name for name, value in wanted.items() if getattr(country, name) != value)
    if changed:
        for name in changed:
            setattr(country, name, wanted[name])
        country.updated_at = now
        await session.flush()
        await audit.record(
            session,
            actor,
            "country.profile_changed",
            object_type=OBJECT_TYPE,
            object_id=code,
            countries=(code,),
            details={"fields": changed},
        )
    return CountryOut.model_validate(_view(country, actor))
