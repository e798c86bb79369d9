"""What became of drills: each drill with the stamps of the request it was sent as (delivered,
acknowledged, how far it escalated), a desk's results over a period, and the event that tells
the global desk of a failed drill. Nothing here is a second record: every figure is read from
the request's own columns, as the desk's acknowledgement wrote them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFoundError
from app.core.pagination import Cursor
from app.drills.schemas import DeskResults, DrillOut, DrillPage, DrillResults, DrillStatus
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest, Drill
from app.realtime import audience, event_log
from app.requests import views

_r = CooperationRequest


@dataclass(frozen=True, slots=True)
class Shown:
    """A drill and the stamps of its request (all None before it is sent)."""

    drill: Drill
    request_id: uuid.UUID | None
    sent_at: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    escalation_step: int | None
    overdue_at: datetime | None


# The drill and its request's stamps; the outer join makes the request's all NULL until sent.
_ShownSelect = Select[
    Drill,
    uuid.UUID,
    datetime,
    datetime | None,
    datetime | None,
    uuid.UUID | None,
    int,
    datetime | None,
]


def _select() -> _ShownSelect:
    return select(
        Drill,
        _r.id,
        _r.created_at,
        _r.delivered_at,
        _r.acknowledged_at,
        _r.acknowledged_by,
        _r.escalation_step,
        _r.overdue_at,
    ).outerjoin(_r, _r.drill_id == Drill.id)


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The drills of the actor's reach (the global desk's: all; an NCB's: its country's), of
    which a drill scheduled by another agency only once sent: the drilled country must not
    learn when it comes."""
    reach = policy.where(actor, policy.Action.READ_DRILLS, Drill)
    if policy.Scope.ANY in policy.scopes(actor, policy.Action.READ_DRILLS):
        return reach
    return and_(
        reach, or_(Drill.fired_at.is_not(None), Drill.scheduled_by_agency_id == actor.agency_id)
    )


def _shown(row: Any) -> Shown:
    return Shown(row[0], *row[1:])


async def find(session: AsyncSession, drill_ids: list[uuid.UUID]) -> list[Drill]:
    return list(await session.scalars(select(Drill).where(Drill.id.in_(drill_ids))))


async def find_visible(
    session: AsyncSession, actor: Actor, drill_id: uuid.UUID, *, lock: bool = False
) -> Shown:
    """The drill, if the actor may see it (else 404, as if it did not exist)."""
    policy.require(actor, policy.Action.READ_DRILLS)
    query = _select().where(Drill.id == drill_id, visible_to(actor))
    row = (await session.execute(query.with_for_update(of=Drill) if lock else query)).one_or_none()
    if row is None:
        raise NotFoundError(f"no drill {drill_id} that you may see")
    return _shown(row)


def _status(shown: Shown) -> DrillStatus:
    if shown.drill.cancelled_at is not None:
        return DrillStatus.CANCELLED
    if shown.request_id is None:
        return DrillStatus.SCHEDULED
    if shown.overdue_at is not None:
        return DrillStatus.FAILED
    if shown.acknowledged_at is not None:
        return DrillStatus.ACKNOWLEDGED
    return DrillStatus.WAITING


def _seconds_to_acknowledge(shown: Shown) -> float | None:
    start = shown.delivered_at or shown.sent_at
    if shown.acknowledged_at is None or start is None:
        return None
    return max(0.0, (shown.acknowledged_at - start).total_seconds())


def view(shown: Shown | Drill) -> DrillOut:
    if isinstance(shown, Drill):
        shown = Shown(shown, None, None, None, None, None, None, None)
    drill = shown.drill
    return DrillOut(
        id=drill.id,
        target_country=drill.target_country,
        priority=drill.priority,
        status=_status(shown),
        scheduled_by=drill.scheduled_by,
        scheduled_by_agency_id=drill.scheduled_by_agency_id,
        window_start=drill.window_start,
        window_end=drill.window_end,
        due_at=drill.due_at,
        created_at=drill.created_at,
        cancelled_at=drill.cancelled_at,
        fired_at=drill.fired_at,
        request_id=shown.request_id,
        delivered_at=shown.delivered_at,
        acknowledged_at=shown.acknowledged_at,
        acknowledged_by=shown.acknowledged_by,
        seconds_to_acknowledge=_seconds_to_acknowledge(shown),
        escalation_step=shown.escalation_step,
        overdue_at=shown.overdue_at,
    )


async def get(session: AsyncSession, actor: Actor, drill_id: uuid.UUID) -> DrillOut:
    return view(await find_visible(session, actor, drill_id))


async def list_drills(
    session: AsyncSession,
    actor: Actor,
    *,
    country: str | None,
    cursor: str | None,
    limit: int,
) -> DrillPage:
    """The drills the actor sees, latest due first (a desk's results over time with
    ``country``), keyset-paged by (due_at, id)."""
    policy.require(actor, policy.Action.READ_DRILLS)
    query = _select().where(visible_to(actor))
    if country is not None:
        query = query.where(Drill.target_country == country)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(Drill.due_at, Drill.id) < tuple_(after.created_at, after.id))
    rows = [
        _shown(row)
        for row in await session.execute(
            query.order_by(Drill.due_at.desc(), Drill.id.desc()).limit(limit + 1)
        )
    ]
    page, more = rows[:limit], len(rows) > limit
    last = page[-1].drill if page else None
    return DrillPage(
        items=[view(shown) for shown in page],
        next_cursor=Cursor(last.due_at, last.id).encode() if more and last else None,
    )


async def results(
    session: AsyncSession,
    actor: Actor,
    *,
    country: str | None,
    since: datetime | None,
    until: datetime | None,
) -> DrillResults:
    """Per desk, its drills sent in [since, until): how many were acknowledged in time, failed
    or still wait, and the time to acknowledge (from delivery, else from sending)."""
    policy.require(actor, policy.Action.READ_DRILLS)
    since_delivery = _r.acknowledged_at - func.coalesce(_r.delivered_at, _r.created_at)
    to_ack = func.extract("epoch", since_delivery)
    acknowledged = and_(_r.acknowledged_at.is_not(None), _r.overdue_at.is_(None))
    waiting = and_(_r.acknowledged_at.is_(None), _r.overdue_at.is_(None))
    query = (
        select(
            Drill.target_country,
            func.count(),
            func.count().filter(acknowledged),
            func.count().filter(_r.overdue_at.is_not(None)),
            func.count().filter(waiting),
            func.percentile_cont(0.5).within_group(to_ack),
            func.percentile_cont(0.9).within_group(to_ack),
            func.max(to_ack),
            func.max(Drill.fired_at),
        )
        .join(_r, _r.drill_id == Drill.id)
        .where(
            visible_to(actor),
            Drill.target_country == country if country is not None else true(),
            Drill.fired_at >= since if since is not None else true(),
            Drill.fired_at < until if until is not None else true(),
        )
        .group_by(Drill.target_country)
        .order_by(Drill.target_country)
    )

    def seconds(value: Any) -> float | None:
        return None if value is None else round(float(value), 3)

    return DrillResults(
        items=[
            DeskResults(
                country=row[0],
                sent=row[1],
                acknowledged=row[2],
                failed=row[3],
                waiting=row[4],
                median_seconds_to_acknowledge=seconds(row[5]),
                p90_seconds_to_acknowledge=seconds(row[6]),
                slowest_seconds_to_acknowledge=seconds(row[7]),
                last_sent_at=row[8],
            )
            for row in await session.execute(query)
        ]
    )


async def tell_failed(session: AsyncSession, request: CooperationRequest) -> None:
    """A drill passed the last step of its desk's escalation unacknowledged: the global desk
    and the scheduler's agency are told that the drill failed (the request.overdue event and
    its alerts, marked as a drill, go out as for any request)."""
    await event_log.publish(
        session,
        "drill.failed",
        channels=[audience.GLOBAL_DESK, audience.agency_channel(request.requesting_agency_id)],
        request_id=request.id,
        data=views.event_data(request),
    )
