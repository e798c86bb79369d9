"""Who was alerted about a request: every alert (and withdrawal) the fan-out wrote for it,
to whom, by which route, when, and how its last attempt went, read from the outbox itself
(outbox_messages, outbox_attempts): the delivery log is the record, nothing is copied.

Shown to whoever may see the request (app/requests/access.py); a person's name only to who
may see that person (app/directory/principals.py), the others get the role and country."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Select, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.schemas import AlertedPerson, AlertOut, AlertPage
from app.core.pagination import Cursor
from app.directory import principals
from app.identity.auth import Actor
from app.models import Agency, Principal
from app.models.outbox import MessageStatus, OutboxAttempt, OutboxMessage, Route
from app.requests import access


def _query(actor: Actor, request_id: uuid.UUID) -> Select[Any]:
    m, a = OutboxMessage, OutboxAttempt
    # The last attempt of each message (LEFT JOIN LATERAL ... ON true): one index probe each.
    last = (
        select(
            a.outcome.label("last_outcome"),
            a.status_code.label("last_status_code"),
            a.started_at.label("last_attempt_at"),
        )
        .where(a.message_id == m.id)
        .order_by(a.number.desc())
        .limit(1)
        .lateral("last")
    )
    return (
        select(
            m,
            Principal.role,
            Principal.name,
            Principal.agency_id,
            Agency.owner_country.label("country"),
            principals.visible_to(actor).label("shows_name"),
            last,
        )
        .join(Principal, Principal.id == m.principal_id)
        .join(Agency, Agency.id == Principal.agency_id)
        .outerjoin(last, true())
        .where(m.request_id == request_id, m.route != Route.WEBHOOK)
    )


async def alerts_of(
    session: AsyncSession,
    actor: Actor,
    request_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> AlertPage:
    """The request's alerts, oldest first; 404 for who may not see the request."""
    request = await access.find_visible(session, actor, request_id)
    m = OutboxMessage
    query = _query(actor, request.id)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(m.created_at, m.id) > tuple_(after.created_at, after.id))
    rows = (await session.execute(query.order_by(m.created_at, m.id).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    last = page[-1].OutboxMessage if page else None
    next_cursor = Cursor(last.created_at, last.id).encode() if more and last else None
    return AlertPage(items=[_view(row) for row in page], next_cursor=next_cursor)


def _view(row: Row[Any]) -> AlertOut:
    message: OutboxMessage = row.OutboxMessage
    alert = message.payload.get("alert")
    delivered = message.status is MessageStatus.SENT
    assert message.principal_id is not None  # the query joins the principal
    return AlertOut(
        id=message.id,
        event_type=message.event_type,
        reason=alert.get("reason") if isinstance(alert, dict) else None,
        person=AlertedPerson(
            id=message.principal_id,
            agency_id=row.agency_id,
            country=row.country,
            role=row.role,
            name=row.name if row.shows_name else None,
        ),
        route=message.route,
        contact_method_id=message.destination_id,
        created_at=message.created_at,
        status=message.status,
        delivered=delivered,
        delivered_at=message.finished_at if delivered else None,
        attempts=message.attempts,
        last_outcome=row.last_outcome,
        last_status_code=row.last_status_code,
        last_attempt_at=row.last_attempt_at,
    )


# The alerts of the escalation itself: to whoever held the request, as each step reached them.
ESCALATION_REASONS = ("assigned", "escalated", "repeat", "overdue", "reminder")


async def escalation_alerts(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, *, limit: int
) -> list[AlertOut]:
    """The request's alerts to people on its escalation (not the requester's, nor withdrawals),
    oldest first, at most ``limit``; the caller has checked the request is visible."""
    m = OutboxMessage
    query = _query(actor, request_id).where(
        m.payload["alert"]["reason"].astext.in_(ESCALATION_REASONS)
    )
    rows = (await session.execute(query.order_by(m.created_at, m.id).limit(limit))).all()
    return [_view(row) for row in rows]
