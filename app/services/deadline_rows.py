"""Deadline rows as the use cases write and cancel them; the worker that fires them is
app/services/deadlines.py.

Kept apart from the worker so that submit and the actions, which the worker itself calls
into, can write and cancel deadlines without importing it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import wake_after_commit
from app.models import RequestDeadline
from app.models.enums import Priority, RequestType
from app.schemas.escalation import EscalationPolicyDocument
from app.settings import exchange_settings

# The wake-up every instance's worker listens for (on the events' NOTIFY channel): a deadline
# nearer than the workers' next look was written.
WAKE_CHANNEL = "deadlines"


def first_ack_timeout(
    document: EscalationPolicyDocument, request_type: RequestType, priority: Priority
) -> timedelta:
    return timedelta(seconds=document.steps_for(request_type, priority)[0].ack_timeout_seconds)


def wakes_workers(due_in: timedelta) -> bool:
    """Whether a deadline due in ``due_in`` must wake the workers: one due after their next
    safety-net look is found by it, so most submits cost no NOTIFY."""
    return due_in < exchange_settings().deadline_poll_interval


def wake_if_near(session: AsyncSession, due_in: timedelta) -> None:
    if wakes_workers(due_in):
        wake_after_commit(session, WAKE_CHANNEL)


async def cancel_pending(session: AsyncSession, request_id: uuid.UUID, now: datetime) -> None:
    """Someone acted: the request's pending deadlines will not fire. Called under the request's
    row lock, which the worker also takes to fire one: an ack and an escalation of the same
    request are one after the other, never interleaved."""
    d = RequestDeadline
    await session.execute(
        update(d)
        .where(d.request_id == request_id, d.fired_at.is_(None), d.cancelled_at.is_(None))
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
