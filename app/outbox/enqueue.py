"""Writing a message into the outbox by hand: for what no event fans out (a contact
method's test message, a webhook endpoint's disabling notice, a resend). Events' messages are
written by fanout.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database.session import signal_after_commit
from app.models.outbox import OutboxMessage, Route
from app.outbox import SIGNAL


@dataclass(frozen=True, slots=True)
class NewMessage:
    route: Route
    destination_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    request_id: uuid.UUID | None = None
    principal_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


async def enqueue(session: AsyncSession, *messages: NewMessage) -> None:
    """Due at once; sent after the caller's transaction commits (never if it rolls back)."""
    if not messages:
        return
    await session.execute(
        insert(OutboxMessage),
        [
            {
                "id": m.id,
                "route": m.route,
                "destination_id": m.destination_id,
                "event_type": m.event_type,
                "payload": m.payload,
                "request_id": m.request_id,
                "principal_id": m.principal_id,
            }
            for m in messages
        ],
    )
    signal_after_commit(session, SIGNAL)
