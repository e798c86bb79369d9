"""The deadline worker: runs in every instance; fires each due deadline exactly once.

Deadlines are rows (app/models/deadline.py), written in the transaction that makes them due
(submit writes the first ack deadline with the request). A worker claims the nearest due one
with its request's row lock (``FOR UPDATE ... SKIP LOCKED``), fires it and commits, one
deadline per transaction: two instances never fire the same deadline, an ack (which takes the
same row lock and cancels the pending deadlines) is either before the firing or after it, and
the claims of an instance that dies are released with its connections and taken by another.

Between rounds a worker sleeps until the nearest pending deadline (the database clock says
how far it is), is woken by a NOTIFY when a nearer one is written on any instance
(deadline_rows.WAKE_CHANNEL, on the events' notifier), and looks again at least every
RELAY247_DEADLINE_POLL_INTERVAL in case a wake-up was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import Database
from app.models import CooperationRequest, DeadlineKind, Principal, RequestDeadline
from app.models.enums import Assignment, EscalationTarget, Layer, RequestStatus
from app.schemas.escalation import EscalationStep
from app.services import audit, deadline_rows, events, lifecycle, requests, routing
from app.services.auth import Actor
from app.services.directory.escalation import effective_document
from app.services.rosters import store
from app.supervisor import Heartbeat

log = logging.getLogger(__name__)

# How soon to look again when the nearest deadline is due but held by another transaction (an
# instance firing it, or an ack): if that instance dies, this one takes the deadline over.
_RETRY_HELD = 0.05
# Timers may wake a hair early; the claim compares with the database clock.
_TIMER_SLACK = 0.002
_INSTANT_WIDTH = timedelta(microseconds=1)

_pending = (RequestDeadline.fired_at.is_(None), RequestDeadline.cancelled_at.is_(None))

# The nearest due deadline that nobody holds, with its request's row lock: the same lock an
# ack takes, so the two never interleave.
# Deadlines fired per transaction. Each firing publishes on its desk's (and often the global
# desk's) channel, whose counter row stays locked until commit: one deadline a transaction,
# a burst due together on one desk went at the pace of one commit after the other (about
# 170/s here, make bench --only deadlines). A batch shares one commit among its firings.
CLAIM_BATCH = 16
_CLAIM = (
    select(RequestDeadline, CooperationRequest, func.now())
    .join(CooperationRequest, CooperationRequest.id == RequestDeadline.request_id)
    .where(*_pending, RequestDeadline.due_at <= func.now())
    .order_by(RequestDeadline.due_at)
    .limit(CLAIM_BATCH)
    .with_for_update(of=(RequestDeadline, CooperationRequest), skip_locked=True)
)
_NEAREST = select(
    func.extract("epoch", func.min(RequestDeadline.due_at) - func.clock_timestamp())
).where(*_pending)


@dataclass(frozen=True, slots=True)
class Fired:
    request_id: str
    kind: DeadlineKind
    step: int
    outcome: str  # escalated, overdue, reminded, warned, breached, moot


async def _audit(
    session: AsyncSession, action: str, request: CooperationRequest, details: dict[str, object]
) -> None:
    by_service: Actor | None = None  # the service acts by itself: no principal did this
    await audit.record(
        session,
        by_service,
        action,
        object_type=requests.OBJECT_TYPE,
        object_id=str(request.id),
        content_hash=request.content_hash,
        details=details,
    )


def _seconds(step: EscalationStep) -> timedelta:
    return timedelta(seconds=step.ack_timeout_seconds)


async def _write_deadline(
    session: AsyncSession,
    request: CooperationRequest,
    kind: DeadlineKind,
    step: int,
    due_at: datetime,
    now: datetime,
) -> None:
    # The unique (request, kind, step) makes a second write of the same deadline a no-op.
    await session.execute(
        pg_insert(RequestDeadline)
        .values(request_id=request.id, kind=kind, step=step, due_at=due_at)
        .on_conflict_do_nothing()
    )
    deadline_rows.wake_if_near(session, due_at - now)


async def _hand_to(
    session: AsyncSession, request: CooperationRequest, target: EscalationTarget, now: datetime
) -> None:
    """Assign the request as the step's target says: a contact point on duty now, else the
    target desk as a whole (which its NCB and the global desk follow)."""
    who = None
    if target in (EscalationTarget.ON_DUTY_PRIMARY, EscalationTarget.ON_DUTY_BACKUP):
        roster = await store.load(session, request.target_country, now, now + _INSTANT_WIDTH)
        layer = Layer.PRIMARY if target is EscalationTarget.ON_DUTY_PRIMARY else Layer.BACKUP
        who = routing.on_duty(roster, now, layer)
    request.assigned_to = who
    request.assigned_agency_id = (
        await session.scalar(select(Principal.agency_id).where(Principal.id == who))
        if who is not None
        else None
    )
    request.assignment = Assignment.ESCALATED if who is not None else Assignment.DESK
    request.assigned_at = now


def _informed(request: CooperationRequest, target: EscalationTarget) -> list[str]:
    """The new holder, the target desk (its NCB and the global desk follow it) and the sender."""
    channels = requests.channels_of(request)
    if target is EscalationTarget.GLOBAL_DESK:
        channels.append(events.GLOBAL_DESK)
    return channels


async def _escalate(
    session: AsyncSession,
    request: CooperationRequest,
    steps: list[EscalationStep],
    to_step: int,
    now: datetime,
) -> None:
    step = steps[to_step]
    previous_holder = request.assigned_to
    from_step = request.escalation_step
    await _hand_to(session, request, step.target, now)
    request.escalation_step = to_step
    request.escalated_at = request.updated_at = now
    request.ack_due_at = now + _seconds(step)
    request.version += 1
    await session.flush()
    await _write_deadline(session, request, DeadlineKind.ACK, to_step, request.ack_due_at, now)
    await _audit(
        session,
        "request.escalated",
        request,
        {
            "from_step": from_step,
            "to_step": to_step,
            "target": step.target.value,
            "assigned_to": str(request.assigned_to) if request.assigned_to else None,
        },
    )
    channels = _informed(request, step.target)
    if previous_holder is not None and previous_holder != request.assigned_to:
        channels.append(events.principal_channel(previous_holder))
    await events.publish(
        session,
        "request.escalated",
        channels=channels,
        request_id=request.id,
        data={**requests.event_data(request), "target": step.target.value},
    )


async def _remind(
    session: AsyncSession,
    request: CooperationRequest,
    steps: list[EscalationStep],
    reminder: int,
    now: datetime,
) -> None:
    """Past the last step: flag the request overdue (the first time) and tell the global desk,
    again every interval of the last step, until someone acts."""
    interval = _seconds(steps[-1])
    if request.overdue_at is None:
        request.overdue_at = request.updated_at = now
        request.version += 1
        await session.flush()
    next_at = now + interval
    await _write_deadline(session, request, DeadlineKind.REMINDER, reminder + 1, next_at, now)
    await _audit(
        session, "request.overdue", request, {"reminder": reminder, "step": request.escalation_step}
    )
    await events.publish(
        session,
        "request.overdue",
        channels=[
            events.GLOBAL_DESK,
            events.desk_channel(request.target_country),
            events.agency_channel(request.requesting_agency_id),
        ],
        request_id=request.id,
        data={**requests.event_data(request), "reminder": reminder},
    )


def _response_clock_moot(request: CooperationRequest) -> bool:
    """Nothing left to warn about: answered, final, purged, or waiting on the requester (the
    actions cancel the rows in each case; this is the net)."""
    return (
        request.status is RequestStatus.RESPONDED
        or lifecycle.is_final(request.status)
        or request.purged_at is not None
        or request.response_paused_at is not None
    )


async def _fire_response_clock(
    session: AsyncSession, deadline: RequestDeadline, request: CooperationRequest, now: datetime
) -> str:
    """A warning (step: the percent of the time to respond gone) or the breach: pushed to the
    assignee, the target desk (followed by its NCB and the global desk) and the requester's
    agency. ``fired_at`` and the row lock make it once, whichever instance claims it."""
    if _response_clock_moot(request):
        deadline.cancelled_at = now
        await session.flush()
        return "moot"
    deadline.fired_at = now
    due_at = request.response_due_at.isoformat() if request.response_due_at else None
    if deadline.kind is DeadlineKind.RESPONSE_WARNING:
        await session.flush()
        await _audit(
            session,
            "request.response_warning",
            request,
            {"percent": deadline.step, "response_due_at": due_at},
        )
        await events.publish(
            session,
            "request.response_warning",
            channels=requests.channels_of(request),
            request_id=request.id,
            data={**requests.event_data(request), "percent": deadline.step},
        )
        return "warned"
    request.response_breached_at = request.updated_at = now
    request.version += 1
    await session.flush()
    await _audit(session, "request.breached", request, {"response_due_at": due_at})
    # The desk channel is the NCB's step: the NCB (and the global desk) follow it.
    await events.publish(
        session,
        "request.breached",
        channels=requests.channels_of(request),
        request_id=request.id,
        data=requests.event_data(request),
    )
    return "breached"


async def fire(
    session: AsyncSession, deadline: RequestDeadline, request: CooperationRequest, now: datetime
) -> str:
    """Fire one claimed deadline (both rows locked by the caller)."""
    if deadline.kind in deadline_rows.RESPONSE_CLOCK:
        return await _fire_response_clock(session, deadline, request, now)
    if (
        request.acknowledged_at is not None
        or lifecycle.is_final(request.status)
        or request.purged_at is not None
    ):
        deadline.cancelled_at = now  # moot: someone acted (an ack cancels; this is the net)
        await session.flush()
        return "moot"
    deadline.fired_at = now
    await session.flush()
    document = await effective_document(session, request.target_country)
    steps = document.steps_for(request.type, request.priority)
    if deadline.kind is DeadlineKind.ACK and deadline.step + 1 < len(steps):
        await _escalate(session, request, steps, deadline.step + 1, now)
        return "escalated"
    if deadline.kind is DeadlineKind.ACK:
        await _remind(session, request, steps, 0, now)
        return "overdue"
    if deadline.kind is DeadlineKind.REMINDER:
        await _remind(session, request, steps, deadline.step, now)
        return "reminded"
    return "moot"


async def fire_due(database: Database) -> list[Fired]:
    """Claim the nearest due deadlines nobody holds (up to CLAIM_BATCH) and fire them, in one
    transaction; an empty list when none is due."""
    async with database.transaction() as session:
        claimed = (await session.execute(_CLAIM)).all()
        fired = []
        # The batch's pushes lock their channels' counters all at once, in one order: two
        # batches publishing on each other's channels one firing at a time would deadlock.
        async with events.batched(session):
            for deadline, request, now in claimed:
                outcome = await fire(session, deadline, request, now)
                fired.append(Fired(str(request.id), deadline.kind, deadline.step, outcome))
        return fired


async def seconds_to_nearest(database: Database) -> float | None:
    """How long until the nearest pending deadline (negative: due already); None: none."""
    async with database.engine.connect() as connection:
        found = await connection.scalar(_NEAREST)
    return float(found) if found is not None else None


class DeadlineWorker:
    def __init__(self, database: Database, *, poll_interval: float, concurrency: int = 1) -> None:
        self._database = database
        self._poll_interval = poll_interval
        self._concurrency = concurrency
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """A nearer deadline was written (here or on another instance); must not block."""
        self._woken.set()

    def stall_bound(self) -> float:
        return 4 * self._poll_interval + 30

    async def _fire_due(self, beat: Heartbeat) -> None:
        while batch := await fire_due(self._database):
            for fired in batch:
                log.info(
                    "deadline fired: %s %s step %d of request %s",
                    fired.kind.value,
                    fired.outcome,
                    fired.step,
                    fired.request_id,
                )
            beat()

    async def run(self, beat: Heartbeat) -> None:
        """Supervised loop: fire what is due, then sleep until the nearest deadline."""
        beat()
        while True:
            self._woken.clear()
            # Several claimers at once: SKIP LOCKED gives each its own deadline, so a burst
            # due together is worked off in parallel; any error ends them all (and the
            # supervisor restarts the loop).
            async with asyncio.TaskGroup() as claimers:
                for _ in range(self._concurrency):
                    claimers.create_task(self._fire_due(beat))
            nearest = await seconds_to_nearest(self._database)
            if nearest is None:
                wait = self._poll_interval
            elif nearest <= 0:
                wait = _RETRY_HELD  # due, but held by another transaction
            else:
                wait = min(nearest + _TIMER_SLACK, self._poll_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=wait)
            beat()
