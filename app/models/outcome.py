from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import CHAR, Boolean, DateTime, Double, ForeignKey, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.enums import Priority, RequestStatus, RequestType, db_enum
from app.models.ownership import OwnerColumns


class ClockOutcome(enum.StrEnum):
    """How a final request's legal response clock ended."""

    MET = "met"  # answered before its (pause-adjusted) due time
    BREACHED = "breached"  # answered late, or ended unanswered after the due time
    NOT_DUE = "not_due"  # ended unanswered (declined, cancelled) before anything was due


class RequestOutcome(Base):
    """What happened to one final request, as figures: a rollup of the request's own columns and
    its first acknowledgement deadline (app/analytics/outcomes.py derives it), never written
    from anything else, so ``relay247 analytics rebuild`` gives the same row from scratch.

    Written in the transaction that makes the request final, deleted by the one that reopens
    it. Aggregates read the rollup kept from it (RequestOutcomeRollup, app/analytics/
    rollup.py), not this table: no index serves them here."""

    __tablename__ = "request_outcomes"
    # The same owners as the request it describes: aggregates obey the request's visibility.
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(
        country="target_country",
        agency="requesting_agency_id",
        sending_country="requesting_country",
    )

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    status: Mapped[RequestStatus] = mapped_column(
        db_enum(RequestStatus, name="outcome_status"), nullable=False
    )
    type: Mapped[RequestType] = mapped_column(db_enum(RequestType), nullable=False)
    priority: Mapped[Priority] = mapped_column(db_enum(Priority), nullable=False)
    requesting_agency_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    requesting_country: Mapped[str] = mapped_column(CHAR(2), nullable=False)
    target_country: Mapped[str] = mapped_column(CHAR(2), nullable=False)
    # When it was submitted (the period it counts in) and when it became final.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Seconds from submission to each stage; NULL: the request never reached it.
    deliver_seconds: Mapped[float | None] = mapped_column(Double)
    acknowledge_seconds: Mapped[float | None] = mapped_column(Double)
    respond_seconds: Mapped[float | None] = mapped_column(Double)
    close_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    escalation_steps: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    overdue: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # NULL: the request had no legal clock.
    clock: Mapped[ClockOutcome | None] = mapped_column(db_enum(ClockOutcome))
    # Seconds to spare at the answer (or at the end), negative when late: by how much.
    clock_margin_seconds: Mapped[float | None] = mapped_column(Double)
    # Acknowledged by the first step's deadline; NULL: ended unacknowledged before it.
    ack_within_policy: Mapped[bool | None] = mapped_column(Boolean)
    # Acknowledged within the target's working hours, in its time zone; NULL: never acked.
    ack_in_working_hours: Mapped[bool | None] = mapped_column(Boolean)
