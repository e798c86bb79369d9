"""What the drill endpoints take and give."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.primitives import CountryCode, PlannedInstant
from app.models.enums import Priority

# A schedule drills this many desks at most: the whole network fits.
MAX_DESKS = 300


class DrillSchedule(BaseModel):
    """Drill these desks at ``at``, or each at its own time drawn at random within
    [``window_start``, ``window_end``] (so that desks cannot warn each other)."""

    model_config = ConfigDict(extra="forbid")

    countries: Annotated[
        list[CountryCode],
        Field(min_length=1, max_length=MAX_DESKS, description="The desks to drill (ISO 3166-1)"),
    ]
    priority: Priority = Field(
        default=Priority.URGENT,
        description="The priority the drill is sent with: its desk's escalation policy for "
        "that priority sets its deadlines, as for a real request",
    )
    at: PlannedInstant | None = Field(default=None, description="When to send it")
    window_start: PlannedInstant | None = Field(
        default=None, description="The earliest it may be sent (with window_end)"
    )
    window_end: PlannedInstant | None = Field(
        default=None, description="The latest it may be sent (with window_start)"
    )

    @model_validator(mode="after")
    def _one_time(self) -> Self:
        window = (self.window_start, self.window_end)
        if self.at is not None and window != (None, None):
            raise ValueError("give either at or window_start and window_end, not both")
        if self.at is None and None in window:
            raise ValueError("give at, or both window_start and window_end")
        if (
            self.window_start is not None
            and self.window_end is not None
            and self.window_end <= self.window_start
        ):
            raise ValueError("window_end must be after window_start")
        if len(set(self.countries)) != len(self.countries):
            raise ValueError("countries names a desk twice")
        return self


class DrillStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # not sent yet
    CANCELLED = "cancelled"  # called off before it was sent
    WAITING = "waiting"  # sent; nobody has acknowledged it yet
    ACKNOWLEDGED = "acknowledged"  # acknowledged before the end of the escalation chain
    FAILED = "failed"  # passed the last escalation step unacknowledged (overdue)


class DrillOut(BaseModel):
    id: uuid.UUID
    target_country: str = Field(description="The drilled desk's country")
    priority: Priority
    status: DrillStatus
    scheduled_by: uuid.UUID = Field(description="The principal who scheduled it")
    scheduled_by_agency_id: uuid.UUID
    window_start: datetime
    window_end: datetime
    due_at: datetime = Field(description="When it is (or was) to be sent")
    created_at: datetime
    cancelled_at: datetime | None
    fired_at: datetime | None = Field(description="When it was sent; null: not yet")
    request_id: uuid.UUID | None = Field(description="The request it was sent as")
    delivered_at: datetime | None = Field(description="When a screen of the desk confirmed it")
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    seconds_to_acknowledge: float | None = Field(
        description="From delivery (a screen confirmed it) to the human acknowledgement; "
        "from sending when no screen confirmed it first (acknowledged from an alert)"
    )
    escalation_step: int | None = Field(description="How far its escalation went (0: none)")
    overdue_at: datetime | None = Field(description="When it passed the last step: failed")


class DrillPage(BaseModel):
    items: list[DrillOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class ScheduledDrills(BaseModel):
    items: list[DrillOut] = Field(description="One drill per desk, in the order asked")


class DeskResults(BaseModel):
    """A desk's drills, sent ones only, over the period asked."""

    country: str
    sent: int
    acknowledged: int
    failed: int
    waiting: int
    median_seconds_to_acknowledge: float | None
    p90_seconds_to_acknowledge: float | None
    slowest_seconds_to_acknowledge: float | None
    last_sent_at: datetime | None


class DrillResults(BaseModel):
    items: list[DeskResults]
