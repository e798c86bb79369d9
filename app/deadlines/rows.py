"""Deadline rows as the use cases write, pause and cancel them (the worker that fires them
is worker.py, beside this module)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import wake_after_commit
from app.deadlines.escalation_policy import EscalationPolicyDocument
from app.models import CooperationRequest, DeadlineKind, RequestDeadline
from app.models.enums import Priority, RequestType

# The wake-up every instance's worker listens for (on the events' NOTIFY channel): a deadline
# nearer than the workers' next look was written.
WAKE_CHANNEL = "deadlines"


def first_ack_timeout(
    document: EscalationPolicyDocument, request_type: RequestType, priority: Priority
) -> timedelta:
    return timedelta(seconds=document.steps_for(request_type, priority)[0].ack_timeout_seconds)


def wakes_workers(due_in: timedelta, poll_interval: timedelta) -> bool:
    """Whether a deadline due in ``due_in`` must wake the workers: one due after their next
    safety-net look (RELAY247_DEADLINE_POLL_INTERVAL) is found by it, so most submits cost
    no NOTIFY."""
    return due_in < poll_interval


def wake_if_near(session: AsyncSession, due_in: timedelta, *, poll_interval: timedelta) -> None:
    if wakes_workers(due_in, poll_interval):
        wake_after_commit(session, WAKE_CHANNEL)


def alert_repeat_interval(
    document: EscalationPolicyDocument, request_type: RequestType, priority: Priority, step: int
) -> timedelta:
    """How often the step's holder is alerted again while it does not acknowledge."""
    steps = document.steps_for(request_type, priority)
    return timedelta(seconds=steps[min(step, len(steps) - 1)].alert_repeat_seconds)


# The escalation's deadlines (an ack stops them) and the legal response clock's (a response
# stops them; waiting on the requester pauses them).
ESCALATION = frozenset({DeadlineKind.ACK, DeadlineKind.REMINDER, DeadlineKind.ALERT_REPEAT})
RESPONSE_CLOCK = frozenset({DeadlineKind.RESPONSE_WARNING, DeadlineKind.RESPONSE_BREACH})
ALL_KINDS = ESCALATION | RESPONSE_CLOCK

# The response clock's warnings, in percent of the time to respond; the breach is step 100.
WARNING_PERCENTS = (50, 90)
BREACH_STEP = 100


def response_time(
    document: EscalationPolicyDocument, request_type: RequestType, priority: Priority
) -> timedelta:
    return timedelta(hours=document.respond_within_hours(request_type, priority))


def response_clock_offsets(response_within: timedelta) -> dict[str, timedelta]:
    """How long after submission each warning and the breach are due, as submit's statement
    binds them (warn_50, warn_90, breach)."""
    offsets = {f"warn_{percent}": response_within * percent / 100 for percent in WARNING_PERCENTS}
    return offsets | {"breach": response_within}


async def cancel_pending(
    session: AsyncSession,
    request_id: uuid.UUID,
    now: datetime,
    kinds: frozenset[DeadlineKind] = ALL_KINDS,
) -> None:
    """Someone acted: the request's pending deadlines (of these kinds) will not fire. Called
    under the request's row lock, which the worker also takes to fire one: an ack and an
    escalation of the same request are one after the other, never interleaved."""
    d = RequestDeadline
    await session.execute(
        update(d)
        .where(
            d.request_id == request_id,
            d.kind.in_(kinds),
            d.fired_at.is_(None),
            d.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )


def _clock_runs(request: CooperationRequest) -> bool:
    return (
        request.response_due_at is not None
        and request.response_paused_at is None
        and request.response_breached_at is None
    )


async def pause_response_clock(
    session: AsyncSession, request: CooperationRequest, now: datetime
) -> None:
    """The request waits on its requester: its response clock stops. Its pending warnings and
    breach are cancelled at exactly ``now`` (= response_paused_at), which is how the resume
    tells them from rows cancelled for good. A clock that already ran out stays run out."""
    if not _clock_runs(request):
        return
    request.response_paused_at = now
    await cancel_pending(session, request.id, now, RESPONSE_CLOCK)


async def resume_response_clock(
    session: AsyncSession, request: CooperationRequest, now: datetime
) -> None:
    """The requester answered: the clock runs again, its end moved later by exactly the time it
    waited (both ends on the database clock). The rows the pause cancelled come back shifted
    by the same amount; a warning that fired before the pause stays fired, once."""
    paused_at = request.response_paused_at
    if paused_at is None or request.response_due_at is None:
        return
    waited = now - paused_at
    request.response_due_at = request.response_due_at + waited
    request.response_paused_at = None
    d = RequestDeadline
    await session.execute(
        update(d)
        .where(
            d.request_id == request.id,
            d.kind.in_(RESPONSE_CLOCK),
            d.fired_at.is_(None),
            d.cancelled_at == paused_at,
        )
        .values(due_at=d.due_at + waited, cancelled_at=None, retry_at=None)
        .execution_options(synchronize_session=False)
    )
    # A revived warning may be nearer than the workers' next look; resumes are rare enough
    # that waking them every time costs nothing worth a query.
    wake_after_commit(session, WAKE_CHANNEL)
