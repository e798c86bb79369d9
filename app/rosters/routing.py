"""Routing on submit: may this agency send this request, what should it be warned of, and who
at the target desk gets it.

Everything the decision needs comes from ONE statement (:func:`load_context`), run inside the
submit transaction: the database clock, the target's profile, the sender's agreements and the
target's roster at that instant. The rest is pure: the directory's agreement rule
(app.directory.agreements.refusal), :func:`warnings`, :func:`on_duty_primary`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    String,
    Uuid,
    bindparam,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Interval

from app.deadlines.escalation_policy import EscalationPolicyDocument
from app.directory.agreements import AgreementTerms
from app.models import AccessAgreement, Country, EscalationPolicy, table_of
from app.models.enums import Layer, RequestType
from app.models.escalation_policy import NETWORK_DEFAULT
from app.rosters import resolution
from app.rosters.store import Roster, json_rows, roster_from_json, roster_parts

# --- the routing context: one round trip ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetProfile:
    code: str
    name: str
    time_zone: str
    direct_types: frozenset[str]
    mla_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class RoutingContext:
    now: datetime  # the database clock: the request's created_at
    target: TargetProfile | None  # None: not a country of the network
    agreements: tuple[AgreementTerms, ...]
    roster: Roster | None
    # The target's escalation policy (its own, else the network default): the first ack
    # deadline is written with the request.
    escalation: EscalationPolicyDocument | None


_countries, _agreements = table_of(Country), table_of(AccessAgreement)
_policies = table_of(EscalationPolicy)
# An instant is a window of one microsecond (timestamptz's resolution) for the roster parts.
_INSTANT_WIDTH = timedelta(microseconds=1)


def _context_statement() -> Any:
    c, a = _countries, _agreements
    now = func.now()
    target = bindparam("target", type_=String)
    agency = bindparam("agency", type_=Uuid)
    profile = (
        select(
            type_coerce(
                func.json_build_object(
                    "name",
                    c.c.name,
                    "time_zone",
                    c.c.time_zone,
                    "direct_types",
                    c.c.direct_types,
                    "mla_types",
                    c.c.mla_types,
                ),
                JSON,
            )
        )
        .where(c.c.code == target)
        .scalar_subquery()
    )
    terms = (
        a.c.request_types,
        a.c.target_countries,
        a.c.priorities,
        a.c.valid_from,
        a.c.valid_until,
        a.c.ended_at,
        a.c.id,
    )
    # The agreements not ended, and the one ended last: enough to say "ended" when that is
    # why, without reading an agency's whole history on every submit.
    not_ended = or_(a.c.ended_at.is_(None), a.c.ended_at > now)
    agreements = union_all(
        select(*terms).where(a.c.agency_id == agency, not_ended),
        select(*terms)
        .where(a.c.agency_id == agency, ~not_ended)
        .order_by(a.c.ended_at.desc())
        .limit(1),
    ).subquery("agreements")
    roster = roster_parts(target, now, now + literal(_INSTANT_WIDTH, Interval))
    p = _policies
    own_policy = select(p.c.document).where(p.c.country_code == target).scalar_subquery()
    default_policy = select(p.c.document).where(p.c.scope == NETWORK_DEFAULT).scalar_subquery()
    return select(
        now.label("now"),
        profile.label("target"),
        json_rows(agreements).label("agreements"),
        roster.rotations.label("rotations"),
        roster.overrides.label("overrides"),
        roster.principals.label("principals"),
        func.coalesce(own_policy, default_policy).label("escalation"),
    )


_CONTEXT = _context_statement()


def _terms(row: dict[str, Any]) -> AgreementTerms:
    def scope(values: list[str] | None) -> frozenset[str] | None:
        return None if values is None else frozenset(values)

    def instant(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value is not None else None

    return AgreementTerms(
        request_types=scope(row["request_types"]),
        target_countries=scope(row["target_countries"]),
        priorities=scope(row["priorities"]),
        valid_from=datetime.fromisoformat(row["valid_from"]),
        valid_until=instant(row["valid_until"]),
        ended_at=instant(row["ended_at"]),
        agreement_id=uuid.UUID(row["id"]),
    )


async def load_context(
    session: AsyncSession, *, agency_id: uuid.UUID, target_country: str
) -> RoutingContext:
    row = (await session.execute(_CONTEXT, {"target": target_country, "agency": agency_id})).one()
    # Live agreements before the ended one, each group by start: a stable order for refusal().
    agreements = sorted(
        (_terms(item) for item in row.agreements),
        key=lambda t: (t.ended_at is not None, t.valid_from, str(t.agreement_id)),
    )
    if row.target is None:
        return RoutingContext(row.now, None, tuple(agreements), None, None)
    target = TargetProfile(
        code=target_country,
        name=row.target["name"],
        time_zone=row.target["time_zone"],
        direct_types=frozenset(row.target["direct_types"]),
        mla_types=frozenset(row.target["mla_types"]),
    )
    roster = roster_from_json(
        target_country, target.time_zone, row.rotations, row.overrides, row.principals
    )
    escalation = EscalationPolicyDocument.model_validate(row.escalation)
    return RoutingContext(row.now, target, tuple(agreements), roster, escalation)


# --- the decisions ----------------------------------------------------------------------------


def warnings(target: TargetProfile, request_type: RequestType) -> list[str]:
    """What the sender should know about how the target desk can handle this type."""
    country = f"{target.name} ({target.code})"
    kind = request_type.value
    if kind in target.mla_types:
        return [
            f"{country} handles {kind} requests only through mutual legal assistance: the desk "
            "can receive this one, but expect to be asked for an MLA request"
        ]
    if target.direct_types and kind not in target.direct_types:
        listed = ", ".join(sorted(target.direct_types))
        return [
            f"{country} does not list {kind} among the request types its desk executes "
            f"directly ({listed}) nor among those that need mutual legal assistance: expect "
            "questions before it can act"
        ]
    return []


def on_duty_primary(roster: Roster, at: datetime) -> uuid.UUID | None:
    """Who is the target desk's primary at ``at``. Resolves a window of one instant: unlike
    resolution.on_duty, it needs no shift's full extent, so it never widens its search."""
    return on_duty(roster, at, Layer.PRIMARY)


def on_duty(roster: Roster, at: datetime, layer: Layer) -> uuid.UUID | None:
    """Who is on duty in ``layer`` (primary, backup) at ``at`` (see :func:`on_duty_primary`)."""
    found = resolution.shifts(
        roster.zone,
        roster.rotations,
        roster.overrides,
        at,
        at + _INSTANT_WIDTH,
        unavailable=roster.unavailable,
    )
    return next((shift.principal_id for shift in found if shift.layer is layer), None)
