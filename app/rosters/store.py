"""Loading a country's roster for a time window: the rows resolution needs, in one query.

The same statement parts serve the REST views (a window of up to a few months) and routing
on submit (the instant ``now()``), so both see exactly the same rotations and overrides.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    ScalarSelect,
    String,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Interval

from app.core.errors import NotFoundError
from app.models import Country, Principal, RosterOverride, RosterRotation, table_of
from app.models.enums import Cadence, Layer, OverrideKind
from app.rosters.resolution import Override, Rotation

_rotations, _overrides = table_of(RosterRotation), table_of(RosterOverride)
_principals, _countries = table_of(Principal), table_of(Country)
# No zone is more than 14 hours ahead of UTC: a rotation whose first local hand-off is later
# than this past the window's end (read as UTC wall time) cannot start within the window.
_ZONE_MARGIN = timedelta(days=1)
_INSTANT = DateTime(timezone=True)


@dataclass(frozen=True, slots=True)
class Roster:
    """A country's roster as resolution takes it, for the window it was loaded for."""

    country_code: str
    time_zone: str
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...]
    unavailable: frozenset[uuid.UUID]  # disabled principals: their time is a gap
    names: Mapping[uuid.UUID, str]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True, slots=True)
class RosterParts:
    """Scalar subqueries (JSON) over one country's roster rows for a window."""

    rotations: ScalarSelect[Any]
    overrides: ScalarSelect[Any]
    principals: ScalarSelect[Any]


def json_rows(rows: Any) -> ScalarSelect[Any]:
    """All rows of a subquery or CTE as one JSON array (never null), keyed by column name."""
    array = func.coalesce(func.json_agg(rows.table_valued()), literal_column("'[]'::json"))
    return select(type_coerce(array, JSON)).scalar_subquery()


def roster_parts(
    country: ColumnElement[str], start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> RosterParts:
    """The rotations that may govern some instant of [start, end), the overrides in force
    during it, and the principals they name (with whether each is disabled)."""
    r, o, p = _rotations, _overrides, _principals
    rotations = (
        select(
            r.c.id,
            r.c.layer,
            r.c.participants,
            r.c.starts_local,
            r.c.cadence,
            r.c.hours,
            r.c.ends_at,
        )
        .where(
            r.c.country_code == country,
            or_(r.c.ends_at.is_(None), r.c.ends_at > start),
            r.c.starts_local <= func.timezone("UTC", end) + literal(_ZONE_MARGIN, Interval),
        )
        .cte("rotations_in_window")
    )
    overrides = (
        select(
            o.c.id,
            o.c.kind,
            o.c.layer,
            o.c.principal_id,
            o.c.other_principal_id,
            o.c.starts_at,
            o.c.ends_at,
        )
        .where(
            o.c.country_code == country,
            o.c.cancelled_at.is_(None),
            o.c.starts_at < end,
            o.c.ends_at > start,
        )
        .cte("overrides_in_window")
    )
    named = union(
        select(func.unnest(rotations.c.participants).label("id")),
        select(overrides.c.principal_id),
        select(overrides.c.other_principal_id).where(overrides.c.other_principal_id.is_not(None)),
    ).subquery("named")
    principals = (
        select(p.c.id, p.c.name, (p.c.disabled_at.is_not(None)).label("disabled"))
        .where(p.c.id.in_(select(named.c.id)))
        .subquery("named_principals")
    )
    return RosterParts(
        rotations=json_rows(rotations),
        overrides=json_rows(overrides),
        principals=json_rows(principals),
    )


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _rotation(row: dict[str, Any]) -> Rotation:
    return Rotation(
        id=uuid.UUID(row["id"]),
        layer=Layer(row["layer"]),
        participants=tuple(uuid.UUID(p) for p in row["participants"]),
        starts_local=datetime.fromisoformat(row["starts_local"]),
        cadence=Cadence(row["cadence"]),
        hours=row["hours"],
        ends_at=_instant(row["ends_at"]),
    )


def _override(row: dict[str, Any]) -> Override:
    other = row["other_principal_id"]
    return Override(
        id=uuid.UUID(row["id"]),
        kind=OverrideKind(row["kind"]),
        layer=Layer(row["layer"]) if row["layer"] is not None else None,
        principal_id=uuid.UUID(row["principal_id"]),
        other_principal_id=uuid.UUID(other) if other is not None else None,
        starts_at=datetime.fromisoformat(row["starts_at"]),
        ends_at=datetime.fromisoformat(row["ends_at"]),
    )


def roster_from_json(
    country_code: str,
    time_zone: str,
    rotations: Iterable[dict[str, Any]],
    overrides: Iterable[dict[str, Any]],
    principals: Iterable[dict[str, Any]],
) -> Roster:
    people = list(principals)
    return Roster(
        country_code=country_code,
        time_zone=time_zone,
        rotations=tuple(_rotation(row) for row in rotations),
        overrides=tuple(_override(row) for row in overrides),
        unavailable=frozenset(uuid.UUID(p["id"]) for p in people if p["disabled"]),
        names={uuid.UUID(p["id"]): p["name"] for p in people},
    )


async def load(session: AsyncSession, country: str, start: datetime, end: datetime) -> Roster:
    """The country's roster for [start, end); 404 when it is not a country of the network."""
    parts = roster_parts(literal(country, String), literal(start, _INSTANT), literal(end, _INSTANT))
    row = (
        await session.execute(
            select(
                _countries.c.time_zone,
                parts.rotations.label("rotations"),
                parts.overrides.label("overrides"),
                parts.principals.label("principals"),
            ).where(_countries.c.code == country)
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no country {country} in the network")
    return roster_from_json(country, row.time_zone, row.rotations, row.overrides, row.principals)
