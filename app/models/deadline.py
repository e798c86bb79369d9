from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.enums import db_enum


class DeadlineKind(enum.StrEnum):
    ACK = "ack"  # an escalation step's time to acknowledge
    RESPONSE_WARNING = "response_warning"  # the legal response clock nears its end
    RESPONSE_BREACH = "response_breach"  # the legal response clock has run out
    REMINDER = "reminder"  # an overdue request: the global desk is told again
    ALERT_REPEAT = "alert_repeat"  # nobody acknowledged yet: whoever holds it is alerted again


class RequestDeadline(Base):
    """A moment at which something must happen to a request unless someone acts first.

    Rows, not timers: written in the transaction that makes them due, claimed by whichever
    instance's worker gets its row lock first (app/deadlines/worker.py), fired once
    (``fired_at``) or cancelled by the action that made it moot (``cancelled_at``)."""

    __tablename__ = "request_deadlines"
    __table_args__ = (
        # Each step's deadline exists once: a worker that fires twice writes nothing twice.
        UniqueConstraint("request_id", "kind", "step"),
        # What the workers look for: pending deadlines, nearest next attempt first.
        Index(
            "ix_request_deadlines_pending_next",
            text("coalesce(retry_at, due_at)"),
            postgresql_where="fired_at IS NULL AND cancelled_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), nullable=False)
    kind: Mapped[DeadlineKind] = mapped_column(db_enum(DeadlineKind), nullable=False)
    # The escalation step it ends (ack), or the reminder's number (reminder).
    step: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A firing that failed is tried again at retry_at (app/deadlines/worker.py), so
    # one that fails every time cannot hold back the deadlines due after it.
    failures: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @classmethod
    def next_attempt(cls) -> ColumnElement[datetime]:
        """When the workers look at a pending deadline: when due, or when retried."""
        return func.coalesce(cls.retry_at, cls.due_at)
