from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import CHAR, CheckConstraint, DateTime, ForeignKey, Index, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import Priority, db_enum
from app.models.ownership import OwnerColumns


class Drill(Base):
    """A readiness drill of one country's 24/7 desk (app/drills/): a request marked as a drill,
    sent at ``due_at`` through the normal routing, alerts and escalation. The request it
    became points back at it (``requests.drill_id``, unique): that column is what keeps drills
    out of real statistics. ``due_at`` is drawn once, when the drill is scheduled, within
    [window_start, window_end], so a restart neither moves nor repeats it."""

    __tablename__ = "drills"
    __table_args__ = (
        CheckConstraint("window_start <= window_end", name="window_ordered"),
        CheckConstraint("due_at BETWEEN window_start AND window_end", name="due_in_window"),
        # What the drill worker claims: the due ones not yet sent, nearest first (a drill
        # that failed to send, at its next attempt).
        Index(
            "ix_drills_pending_due",
            text("coalesce(retry_at, due_at)"),
            postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
        ),
        # A desk's results over time.
        Index("ix_drills_country_due", "target_country", "due_at", "id"),
    )
    # A drill belongs to the drilled country: its NCB and the global desk see it.
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(country="target_country")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    target_country: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), nullable=False
    )
    priority: Mapped[Priority] = mapped_column(db_enum(Priority), nullable=False)
    scheduled_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    scheduled_by_agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id"), nullable=False
    )
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    # When the worker sent its request; None: not yet.
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A drill whose sending failed (not for want of a database) is tried again at retry_at,
    # backing off, so that it cannot hold back the drills due after it.
    failures: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
