"""Writing and listing a country's rotations and overrides.

Every write first locks the country's row, so writes to one country's roster run one after
the other and two racing overrides cannot both pass the overlap check. The lock is FOR NO KEY
UPDATE, not FOR UPDATE: it does not conflict with the key-share lock that a request's foreign
key to its target country takes, so roster writes never hold up submissions to the country.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, Country, Principal, RosterOverride, RosterRotation
from app.models.enums import OverrideKind, Role
from app.rosters.resolution import wall_to_instant
from app.rosters.schemas import (
    OverrideCreate,
    OverrideOut,
    OverridePage,
    RotationCreate,
    RotationOut,
    RotationPage,
)


def _owner(country: str) -> policy.Owner:
    return policy.Owner(country=country)


async def _lock_country(session: AsyncSession, country: str) -> tuple[str, datetime]:
    """The country's time zone and the database clock, with the country's roster locked."""
    row = (
        await session.execute(
            select(Country.time_zone, func.now())
            .where(Country.code == country)
            .with_for_update(key_share=True)
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no country {country} in the network")
    time_zone, now = row
    return time_zone, now


async def _require_country(session: AsyncSession, country: str) -> str:
    time_zone = await session.scalar(select(Country.time_zone).where(Country.code == country))
    if time_zone is None:
        raise NotFoundError(f"no country {country} in the network")
    return time_zone


async def check_contact_points(
    session: AsyncSession, country: str, named: Mapping[str, uuid.UUID]
) -> None:
    """Each named principal (field -> id) is an active contact point of the country."""
    rows = await session.execute(
        select(Principal.id, Principal.role, Principal.disabled_at, Agency.country_code)
        .join(Agency, Principal.agency_id == Agency.id)
        .where(Principal.id.in_(set(named.values())))
    )
    found = {row.id: row for row in rows}
    for field, principal_id in named.items():
        row = found.get(principal_id)
        if row is None:
            raise InvalidInputError(f"there is no principal {principal_id}", field=field)
        if row.role is not Role.CONTACT_POINT:
            raise InvalidInputError(
                f"{principal_id} is a {row.role.value}, not a contact point", field=field
            )
        if row.country_code != country:
            raise InvalidInputError(
                f"{principal_id} is a contact point of {row.country_code}, not {country}",
                field=field,
            )
        if row.disabled_at is not None:
            raise InvalidInputError(f"{principal_id} is disabled", field=field)


# --- rotations --------------------------------------------------------------------------------


def _rotation_view(rotation: RosterRotation, time_zone: str) -> RotationOut:
    return RotationOut(
        id=rotation.id,
        country_code=rotation.country_code,
        layer=rotation.layer,
        name=rotation.name,
        participants=list(rotation.participants),
        starts_local=rotation.starts_local,
        starts_at=wall_to_instant(rotation.starts_local, ZoneInfo(time_zone)),
        cadence=rotation.cadence,
        hours=rotation.hours,
        ends_at=rotation.ends_at,
        created_by=rotation.created_by,
        created_at=rotation.created_at,
    )


async def add_rotation(
    session: AsyncSession, actor: Actor, country: str, draft: RotationCreate
) -> RotationOut:
    policy.require(actor, policy.Action.MANAGE_ROSTER, _owner(country))
    time_zone, now = await _lock_country(session, country)
    first_seen: dict[uuid.UUID, int] = {}
    for index, participant in enumerate(draft.participants):
        if participant in first_seen:
            raise InvalidInputError(
                f"{participant} is listed already (participants[{first_seen[participant]}]): "
                "a rotation names each person once",
                field=f"participants[{index}]",
            )
        first_seen[participant] = index
    await check_contact_points(
        session, country, {f"participants[{i}]": p for i, p in enumerate(draft.participants)}
    )
    rotation = RosterRotation(
        id=uuid.uuid4(),
        country_code=country,
        layer=draft.layer,
        name=draft.name,
        participants=list(draft.participants),
        starts_local=draft.starts_local,
        cadence=draft.cadence,
        hours=draft.hours,
        ends_at=draft.ends_at,
        created_by=actor.principal_id,
        created_at=now,
    )
    view = _rotation_view(rotation, time_zone)
    if draft.ends_at is not None and draft.ends_at <= view.starts_at:
        raise InvalidInputError(
            f"must be after the first hand-off ({view.starts_at.isoformat()}, "
            f"{draft.starts_local.isoformat()} in {time_zone})",
            field="ends_at",
        )
    session.add(rotation)
    await session.flush()
    await audit.record(
        session,
        actor,
        "roster.rotation_added",
        object_type="roster_rotation",
        object_id=str(rotation.id),
        countries=(country,),
        details={
            "country": country,
            "layer": rotation.layer.value,
            "participants": [str(p) for p in rotation.participants],
            "starts_local": rotation.starts_local.isoformat(),
            "cadence": rotation.cadence.value,
            "hours": rotation.hours,
            "ends_at": rotation.ends_at.isoformat() if rotation.ends_at else None,
        },
    )
    return view


async def end_rotation(
    session: AsyncSession,
    actor: Actor,
    country: str,
    rotation_id: uuid.UUID,
    at: datetime | None,
) -> RotationOut:
    """Stop the rotation at ``at`` (default now). History is not rewritten: not in the past."""
    policy.require(actor, policy.Action.MANAGE_ROSTER, _owner(country))
    time_zone, now = await _lock_country(session, country)
    rotation = await session.scalar(
        select(RosterRotation).where(
            RosterRotation.id == rotation_id, RosterRotation.country_code == country
        )
    )
    if rotation is None:
        raise NotFoundError(f"no rotation {rotation_id} in {country}'s roster")
    if rotation.ends_at is not None and rotation.ends_at <= now:
        raise ConflictError(f"rotation {rotation_id} ended at {rotation.ends_at.isoformat()}")
    ends_at = at or now
    if ends_at < now:
        raise InvalidInputError(
            f"is in the past (now is {now.isoformat()}): who was on duty stays as it was; "
            "omit it to end the rotation now",
            field="at",
        )
    previous = rotation.ends_at
    rotation.ends_at = ends_at
    await session.flush()
    await audit.record(
        session,
        actor,
        "roster.rotation_ended",
        object_type="roster_rotation",
        object_id=str(rotation.id),
        countries=(country,),
        details={
            "country": country,
            "ends_at": ends_at.isoformat(),
            "previous_ends_at": previous.isoformat() if previous else None,
        },
    )
    return _rotation_view(rotation, time_zone)


async def list_rotations(
    session: AsyncSession, actor: Actor, country: str, *, cursor: str | None, limit: int
) -> RotationPage:
    policy.require(actor, policy.Action.READ_ROSTER, _owner(country))
    time_zone = await _require_country(session, country)
    r = RosterRotation
    rows, next_cursor = await _page(
        session, select(r).where(r.country_code == country), r, cursor=cursor, limit=limit
    )
    return RotationPage(
        items=[_rotation_view(row, time_zone) for row in rows], next_cursor=next_cursor
    )


# --- overrides --------------------------------------------------------------------------------


def _conflicts_with(draft: OverrideCreate) -> ColumnElement[bool]:
    """Which existing overrides a new one may not overlap: covers of its layer, swaps of its
    layer (each would need its own resolution order), leaves of its person."""
    o = RosterOverride
    if draft.kind is OverrideKind.LEAVE:
        return (o.kind == OverrideKind.LEAVE) & (o.principal_id == draft.principal_id)
    return (o.kind == draft.kind) & (o.layer == draft.layer)


async def add_override(
    session: AsyncSession, actor: Actor, country: str, draft: OverrideCreate
) -> OverrideOut:
    policy.require(actor, policy.Action.MANAGE_ROSTER, _owner(country))
    _, now = await _lock_country(session, country)
    named = {"principal_id": draft.principal_id}
    if draft.other_principal_id is not None:
        named["other_principal_id"] = draft.other_principal_id
    await check_contact_points(session, country, named)
    o = RosterOverride
    conflict = (
        await session.execute(
            select(o.id, o.kind, o.starts_at, o.ends_at)
            .where(
                o.country_code == country,
                o.cancelled_at.is_(None),
                o.starts_at < draft.ends_at,
                o.ends_at > draft.starts_at,
                _conflicts_with(draft),
            )
            .order_by(o.starts_at)
            .limit(1)
        )
    ).one_or_none()
    if conflict is not None:
        whose = f"of {draft.principal_id}" if draft.kind is OverrideKind.LEAVE else "in this layer"
        raise InvalidInputError(
            f"overlaps {conflict.kind.value} {conflict.id} {whose} "
            f"({conflict.starts_at.isoformat()} to {conflict.ends_at.isoformat()}): "
            "cancel that one first, or choose another time",
            field="starts_at",
            conflicting_override_id=str(conflict.id),
        )
    override = RosterOverride(
        id=uuid.uuid4(),
        country_code=country,
        kind=draft.kind,
        layer=draft.layer,
        principal_id=draft.principal_id,
        other_principal_id=draft.other_principal_id,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        note=draft.note,
        created_by=actor.principal_id,
        created_at=now,
    )
    session.add(override)
    await session.flush()
    await audit.record(
        session,
        actor,
        "roster.override_added",
        object_type="roster_override",
        object_id=str(override.id),
        countries=(country,),
        details={
            "country": country,
            "kind": override.kind.value,
            "layer": override.layer.value if override.layer else None,
            "principal_id": str(override.principal_id),
            "other_principal_id": str(override.other_principal_id)
            if override.other_principal_id
            else None,
            "starts_at": override.starts_at.isoformat(),
            "ends_at": override.ends_at.isoformat(),
        },
    )
    return OverrideOut.model_validate(override, from_attributes=True)


async def cancel_override(
    session: AsyncSession, actor: Actor, country: str, override_id: uuid.UUID
) -> None:
    """Cancel it (kept for history). Cancelling a cancelled override changes nothing."""
    policy.require(actor, policy.Action.MANAGE_ROSTER, _owner(country))
    _, now = await _lock_country(session, country)
    override = await session.scalar(
        select(RosterOverride).where(
            RosterOverride.id == override_id, RosterOverride.country_code == country
        )
    )
    if override is None:
        raise NotFoundError(f"no override {override_id} in {country}'s roster")
    if override.cancelled_at is not None:
        return
    override.cancelled_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "roster.override_cancelled",
        object_type="roster_override",
        object_id=str(override.id),
        countries=(country,),
        details={"country": country, "kind": override.kind.value},
    )


async def list_overrides(
    session: AsyncSession, actor: Actor, country: str, *, cursor: str | None, limit: int
) -> OverridePage:
    policy.require(actor, policy.Action.READ_ROSTER, _owner(country))
    await _require_country(session, country)
    o = RosterOverride
    rows, next_cursor = await _page(
        session, select(o).where(o.country_code == country), o, cursor=cursor, limit=limit
    )
    return OverridePage(
        items=[OverrideOut.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=next_cursor,
    )


async def _page(
    session: AsyncSession,
    query: Any,
    model: type[RosterRotation] | type[RosterOverride],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """Newest first, by (created_at, id)."""
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(model.created_at, model.id) < tuple_(after.created_at, after.id))
    rows = list(
        await session.scalars(
            query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
        )
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
    return page, next_cursor
