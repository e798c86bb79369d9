"""Duty rosters over REST: rotations, overrides, and who is on duty when.

Rosters are written in the country's wall-clock time (a rotation's ``starts_local`` has no
offset) and read as instants. Both are bounded to years 1970 to 2999: far wider than any
roster, and narrow enough that resolving one (which looks up to 400 days around an instant)
never runs off the calendar.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from app.core.primitives import PLAN_EARLIEST, PLAN_LATEST, PLAN_RANGE_MESSAGE, PlannedInstant, Text
from app.models.enums import Cadence, Layer, OverrideKind

MAX_PARTICIPANTS = 50


def _wall_time(value: datetime) -> datetime:
    if value.utcoffset() is not None:
        raise PydanticCustomError(
            "wall_time_with_offset",
            "is a wall-clock time in the country's time zone: write it without an offset "
            "(e.g. 2026-12-01T08:00), so that a hand-off stays at the same local hour across "
            "daylight-saving changes",
        )
    if not PLAN_EARLIEST.replace(tzinfo=None) <= value < PLAN_LATEST.replace(tzinfo=None):
        raise PydanticCustomError("planned_time_out_of_range", PLAN_RANGE_MESSAGE)
    return value


RosterInstant = PlannedInstant
WallTime = Annotated[
    datetime,
    AfterValidator(_wall_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
            "examples": ["2026-12-01T08:00"],
            "description": "A local date and time in the country's time zone, without an "
            "offset (years 1970 to 2999).",
        }
    ),
]
Source = Literal["rotation", "cover", "swap"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _data(info: ValidationInfo) -> dict[str, Any]:
    return info.data


class RotationCreate(_Input):
    """People taking turns on one layer of the desk, from a local date and time."""

    layer: Layer
    name: Annotated[str, Text(min_length=1, max_length=200)]
    participants: Annotated[
        list[uuid.UUID],
        Field(
            min_length=1,
            max_length=MAX_PARTICIPANTS,
            description="Contact points of the country, in turn order, each once",
        ),
    ]
    starts_local: WallTime
    cadence: Cadence
    hours: Annotated[
        int | None,
        Field(ge=1, le=168, validate_default=True, description="Only for cadence `hours`"),
    ] = None
    ends_at: RosterInstant | None = None

    @field_validator("hours")
    @classmethod
    def _hours_iff_cadence_hours(cls, hours: int | None, info: ValidationInfo) -> int | None:
        cadence = _data(info).get("cadence")
        if cadence is Cadence.HOURS and hours is None:
            raise ValueError("a rotation of cadence hours needs hours (1 to 168)")
        if cadence is not None and cadence is not Cadence.HOURS and hours is not None:
            raise ValueError(f"hours is only for cadence hours, not {cadence.value}")
        return hours


class RotationEnd(_Input):
    at: RosterInstant | None = Field(
        default=None, description="When it stops (not in the past); default: now"
    )


class RotationOut(BaseModel):
    id: uuid.UUID
    country_code: str
    layer: Layer
    name: str
    participants: list[uuid.UUID]
    starts_local: datetime = Field(description="The first hand-off, in local wall-clock time")
    starts_at: datetime = Field(description="The first hand-off, as an instant")
    cadence: Cadence
    hours: int | None
    ends_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime


class OverrideCreate(_Input):
    """A cover (someone is on duty in a layer), a swap (two people serve each other's time in
    a layer) or a leave (someone is away from both layers), for a time range."""

    kind: OverrideKind
    layer: Annotated[
        Layer | None, Field(validate_default=True, description="For a cover or a swap")
    ] = None
    principal_id: uuid.UUID
    other_principal_id: Annotated[
        uuid.UUID | None, Field(validate_default=True, description="For a swap")
    ] = None
    starts_at: RosterInstant
    ends_at: RosterInstant
    note: Annotated[str, Text(max_length=2000)] = ""

    @field_validator("layer")
    @classmethod
    def _layer_unless_leave(cls, layer: Layer | None, info: ValidationInfo) -> Layer | None:
        kind = _data(info).get("kind")
        if kind is OverrideKind.LEAVE and layer is not None:
            raise ValueError("a leave takes its principal off both layers: give no layer")
        if kind in (OverrideKind.COVER, OverrideKind.SWAP) and layer is None:
            raise ValueError(f"a {kind.value} needs a layer (primary or backup)")
        return layer

    @field_validator("other_principal_id")
    @classmethod
    def _partner_for_swaps(cls, other: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        data = _data(info)
        kind = data.get("kind")
        if kind is OverrideKind.SWAP:
            if other is None:
                raise ValueError("a swap needs other_principal_id: whom the time is swapped with")
            if other == data.get("principal_id"):
                raise ValueError("a swap needs two different principals")
        elif kind is not None and other is not None:
            raise ValueError(f"other_principal_id is only for swaps, not a {kind.value}")
        return other

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        starts_at = _data(info).get("starts_at")
        if starts_at is not None and ends_at <= starts_at:
            raise ValueError("must be after starts_at")
        return ends_at


class OverrideOut(BaseModel):
    id: uuid.UUID
    country_code: str
    kind: OverrideKind
    layer: Layer | None
    principal_id: uuid.UUID
    other_principal_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    note: str
    created_by: uuid.UUID | None
    created_at: datetime
    cancelled_at: datetime | None = Field(description="Cancelled overrides are kept for history")


class RotationPage(BaseModel):
    items: list[RotationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class OverridePage(BaseModel):
    items: list[OverrideOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class Duty(BaseModel):
    """Someone on duty in a layer, for a whole shift."""

    principal_id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime
    source: Source = Field(description="What put them on duty: their rotation, a cover, a swap")
    source_id: uuid.UUID = Field(description="The rotation's or the override's id")


class OnDutyOut(BaseModel):
    country_code: str
    time_zone: str
    at: datetime
    primary: Duty | None = Field(description="null: nobody is on duty in this layer")
    backup: Duty | None


class ShiftOut(Duty):
    layer: Layer


class GapOut(BaseModel):
    layer: Layer
    starts_at: datetime
    ends_at: datetime


class _Window(BaseModel):
    country_code: str
    time_zone: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime


class ShiftList(_Window):
    """The resolved shifts of both layers within the window, primary first, each by start."""

    items: list[ShiftOut]


class GapList(_Window):
    """The periods within the window where a layer has nobody on duty."""

    items: list[GapOut]
