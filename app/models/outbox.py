from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import db_enum


class Route(enum.StrEnum):
    """How a message leaves: which sender (app/outbox/sender.py) takes it, and which table
    its destination is in."""

    WEBHOOK = "webhook"  # to a case system's endpoint (webhook_endpoints)
    EMAIL = "email"  # to a person, over SMTP (contact_methods)
    WEB_PUSH = "web_push"  # to a person's browser or phone (contact_methods)
    GATEWAY = "gateway"  # to a country's SMS, voice or pager gateway (contact_methods)


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # to be sent (again) at due_at
    SENT = "sent"  # the destination took it (2xx, SMTP 250)
    FAILED = "failed"  # every attempt of the schedule failed, or the destination refuses it
    CANCELLED = "cancelled"  # no longer worth sending: the alert's request was acknowledged


class OutboxMessage(Base):
    """One message to one destination, written in the transaction of the change that causes
    it and sent after commit by whichever instance leases it first (app/outbox/).

    ``id`` is the message's identity on the wire (``webhook-id``, the e-mail's Message-ID, the
    push's topic): a retry, or a resend after a crash, carries the same one, so a receiver
    that sees it twice knows it is the same message."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # What the senders look for: pending messages, soonest due first.
        Index("ix_outbox_messages_due", "due_at", postgresql_where="status = 'pending'"),
        # What the lease reads (app/outbox/store.py): each destination with something pending,
        # its soonest due, and how many it has in flight; only pending rows, so the cost of
        # a lease does not grow with the messages delivered before.
        Index(
            "ix_outbox_messages_pending",
            "destination_id",
            "due_at",
            postgresql_where="status = 'pending'",
        ),
        Index(
            "ix_outbox_messages_in_flight",
            "destination_id",
            postgresql_where="status = 'pending' AND leased_until IS NOT NULL",
        ),
        # A destination's delivery log, newest first.
        Index("ix_outbox_messages_destination", "destination_id", "created_at"),
        # A request's messages: what an acknowledgement cancels (pending) and withdraws
        # (sent pushes), and who was alerted, oldest first (GET /v1/requests/{id}/alerts).
        Index(
            "ix_outbox_messages_request",
            "request_id",
            "created_at",
            "id",
            postgresql_where="request_id IS NOT NULL",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    route: Mapped[Route] = mapped_column(db_enum(Route), nullable=False)
    destination_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    # The request it is about, if any, and the person it alerts (alerts only).
    request_id: Mapped[uuid.UUID | None] = mapped_column()
    principal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    # Metadata only (app/requests/views.event_data and the like), never a request's content.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[MessageStatus] = mapped_column(
        db_enum(MessageStatus), nullable=False, server_default=MessageStatus.PENDING.value
    )
    created_at: Mapped[datetime] = created_at_column()
    due_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # Held by a sender until then; past it, another sender may take the message again (the
    # holder died): at least once, never zero times.
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxAttempt(Base):
    """One try at sending a message, kept with its outcome: the delivery log."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    # delivered, rejected (a non-2xx answer), timeout, unreachable, refused (not allowed to
    # connect: SSRF rules), invalid (the destination cannot take it), moot (cancelled).
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    # The start of the destination's answer (bounded), or the error's class: never our payload.
    response: Mapped[str | None] = mapped_column(String(1024))
