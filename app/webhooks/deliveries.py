"""An endpoint's delivery log (each message with its attempts), the resend of one message,
and the recovery of every failed message of a time range. A message keeps its id, and so
its ``webhook-id``, whatever is done with it: a receiver that has it already knows it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database.session import signal_after_commit
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.identity.auth import Actor
from app.models import OutboxAttempt, OutboxMessage
from app.models.outbox import MessageStatus, Route
from app.outbox import SIGNAL
from app.webhooks import endpoints
from app.webhooks.schemas import AttemptOut, DeliveryOut, DeliveryPage, Recovered


def _of(endpoint_id: uuid.UUID) -> list[ColumnElement[bool]]:
    """The endpoint's messages (a contact method could share an id with no endpoint; the
    route says which table a destination is in)."""
    return [OutboxMessage.destination_id == endpoint_id, OutboxMessage.route == Route.WEBHOOK]


async def log(
    session: AsyncSession,
    actor: Actor | None,
    endpoint_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    status: MessageStatus | None = None,
) -> DeliveryPage:
    """Newest first, each message with its attempts oldest first."""
    await endpoints.find(session, actor, endpoint_id)
    m = OutboxMessage
    query = select(m).where(*_of(endpoint_id))
    if status is not None:
        query = query.where(m.status == status)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(m.created_at, m.id) < tuple_(after.created_at, after.id))
    rows = list(
        await session.scalars(query.order_by(m.created_at.desc(), m.id.desc()).limit(limit + 1))
    )
    page, more = rows[:limit], len(rows) > limit
    attempts: defaultdict[uuid.UUID, list[AttemptOut]] = defaultdict(list)
    if page:
        found = await session.scalars(
            select(OutboxAttempt)
            .where(OutboxAttempt.message_id.in_([row.id for row in page]))
            .order_by(OutboxAttempt.message_id, OutboxAttempt.id)
        )
        for attempt in found:
            attempts[attempt.message_id].append(
                AttemptOut(
                    number=attempt.number,
                    started_at=attempt.started_at,
                    duration_ms=attempt.duration_ms,
                    outcome=attempt.outcome,
                    status_code=attempt.status_code,
                    response=attempt.response,
                )
            )
    items = [
        DeliveryOut(
            id=row.id,
            event_type=row.event_type,
            request_id=row.request_id,
            status=row.status.value,
            created_at=row.created_at,
            due_at=row.due_at,
            finished_at=row.finished_at,
            attempts=attempts[row.id],
        )
        for row in page
    ]
    next_cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
    return DeliveryPage(items=items, next_cursor=next_cursor)


def _require_enabled(endpoint_disabled_at: datetime | None, what: str) -> None:
    if endpoint_disabled_at is not None:
        raise ConflictError(f"the endpoint is disabled: enable it before {what}")


async def resend(
    session: AsyncSession, actor: Actor | None, endpoint_id: uuid.UUID, message_id: uuid.UUID
) -> DeliveryOut:
    """One more attempt of the message, now, with the same id (sent, failed or waiting for
    its next retry alike); refused while an attempt of it is in flight."""
    endpoint = await endpoints.find(session, actor, endpoint_id)
    _require_enabled(endpoint.disabled_at, "resending")
    message = await session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id, *_of(endpoint_id))
        .with_for_update()
    )
    if message is None:
        raise NotFoundError(f"no message {message_id} to this endpoint")
    now = await session.scalar(select(func.now()))
    assert now is not None
    if message.leased_until is not None and message.leased_until > now:
        raise ConflictError("the message is being sent right now: look at its log again")
    message.status = MessageStatus.PENDING
    message.due_at = now
    message.finished_at = None
    message.leased_until = None
    await session.flush()
    signal_after_commit(session, SIGNAL)
    await endpoints.record(
        session,
        actor,
        "webhook_endpoint.message_resent",
        endpoint,
        {"message_id": str(message.id)},
    )
    return DeliveryOut(
        id=message.id,
        event_type=message.event_type,
        request_id=message.request_id,
        status=message.status.value,
        created_at=message.created_at,
        due_at=message.due_at,
        finished_at=None,
        attempts=[],
    )


async def recover(
    session: AsyncSession,
    actor: Actor | None,
    endpoint_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
) -> Recovered:
    """Every message made in [since, until) that failed for good, queued for one more attempt
    now; those delivered (or still being tried) are left as they are."""
    endpoint = await endpoints.find(session, actor, endpoint_id)
    _require_enabled(endpoint.disabled_at, "recovering its messages")
    if until is not None and until <= since:
        raise InvalidInputError("must be after since", field="until")
    m = OutboxMessage
    conditions = [*_of(endpoint_id), m.status == MessageStatus.FAILED, m.created_at >= since]
    if until is not None:
        conditions.append(m.created_at < until)
    result = await session.execute(
        update(m)
        .where(*conditions)
        .values(status=MessageStatus.PENDING, due_at=func.now(), finished_at=None)
        .returning(m.id)
    )
    requeued = len(result.all())
    if requeued:
        signal_after_commit(session, SIGNAL)
    await endpoints.record(
        session,
        actor,
        "webhook_endpoint.recovered",
        endpoint,
        {
            "since": since.isoformat(),
            "until": until.isoformat() if until else None,
            "requeued": requeued,
        },
    )
    return Recovered(requeued=requeued)
