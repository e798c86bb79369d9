"""What the analytics endpoints take and give."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, Field


class Dimension(enum.StrEnum):
    """What aggregates may be grouped by."""

    TARGET_COUNTRY = "target_country"
    REQUESTING_COUNTRY = "requesting_country"
    TYPE = "type"
    PRIORITY = "priority"
    PERIOD = "period"


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday
    MONTH = "month"


class Stage(enum.StrEnum):
    """The durations of a request, each from its submission."""

    DELIVER = "deliver"
    ACKNOWLEDGE = "acknowledge"
    RESPOND = "respond"
    CLOSE = "close"


class DurationOut(BaseModel):
    count: int = Field(description="Requests of the group that reached this stage")
    p50_seconds: float | None = Field(description="Median seconds from submission (null: none)")
    p90_seconds: float | None = Field(description="90th percentile seconds from submission")


class GroupOut(BaseModel):
    target_country: str | None = None
    requesting_country: str | None = None
    type: str | None = None
    priority: str | None = None
    period: datetime | None = Field(
        default=None, description="Start of the period (UTC) the requests were submitted in"
    )
    count: int = Field(description="Final requests (closed, declined, cancelled) in the group")
    durations: dict[Stage, DurationOut]
    escalated: int = Field(description="Requests that escalated past the first step")
    escalation_rate: float | None = Field(description="escalated / count")
    clock_met: int = Field(description="Legal clocks met: answered in time")
    clock_breached: int = Field(description="Legal clocks breached: answered late or not at all")
    breach_rate: float | None = Field(description="clock_breached / (clock_met + clock_breached)")
    ack_within_policy_share: float | None = Field(
        description="Share acknowledged by the first escalation step's deadline, of those "
        "acknowledged or whose deadline passed unacknowledged"
    )
    ack_in_working_hours_share: float | None = Field(
        description="Share of acknowledgements made within the target's working hours "
        "(08:00-18:00 Monday to Friday in its time zone)"
    )


class AnalyticsOut(BaseModel):
    group_by: list[Dimension]
    period: Period
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    to: datetime | None
    groups: list[GroupOut]

    model_config = {"populate_by_name": True}
