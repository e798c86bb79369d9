"""Access agreements: an NCB's grant to an agency of its country to send requests, in a scope."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.primitives import CountryCode, Instant, Text
from app.models.enums import Priority, RequestType

Conditions = Annotated[
    str,
    Text(max_length=4000),
    Field(description="Conditions attached to the grant, for people (not enforced)"),
]


def _scope_list(value: list[Any]) -> list[Any]:
    if not value:
        raise ValueError("an empty list would allow nothing: send null for all, or end it")
    if len(set(value)) != len(value):
        raise ValueError("lists a value more than once")
    return value


RequestTypes = Annotated[
    list[RequestType], Field(max_length=len(RequestType)), AfterValidator(_scope_list)
]
TargetCountries = Annotated[list[CountryCode], Field(max_length=300), AfterValidator(_scope_list)]
Priorities = Annotated[list[Priority], Field(max_length=len(Priority)), AfterValidator(_scope_list)]
_ALL_TYPES = "null: every request type"
_ALL_TARGETS = "null: every country of the network but the agency's own"
_ALL_PRIORITIES = "null: every priority"
_FOUR_EYES = (
    "true: an emergency disclosure this agreement covers waits for a second officer of the "
    "agency or of its NCB to approve it before it is sent (docs/four-eyes.md)"
)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgreementCreate(_Input):
    agency_id: uuid.UUID = Field(description="The agency granted: a national unit or a partner")
    request_types: RequestTypes | None = Field(default=None, description=_ALL_TYPES)
    target_countries: TargetCountries | None = Field(default=None, description=_ALL_TARGETS)
    priorities: Priorities | None = Field(default=None, description=_ALL_PRIORITIES)
    valid_from: Instant | None = Field(default=None, description="null: now")
    valid_until: Instant | None = Field(default=None, description="null: until ended")
    conditions: Conditions = ""
    four_eyes: bool = Field(default=False, description=_FOUR_EYES)

    @model_validator(mode="after")
    def _until_after_from(self) -> Self:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError(valid_until_message(self.valid_from))
        return self


class AgreementChange(_Input):
    """The fields to change; those left out stay as they are. A scope of null means all;
    `valid_until` null means until ended."""

    request_types: RequestTypes | None = Field(default=None, description=_ALL_TYPES)
    target_countries: TargetCountries | None = Field(default=None, description=_ALL_TARGETS)
    priorities: Priorities | None = Field(default=None, description=_ALL_PRIORITIES)
    valid_until: Instant | None = None
    conditions: Conditions | None = None
    four_eyes: bool | None = Field(default=None, description=_FOUR_EYES)

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError('may not be null: send "" for none')
        return value

    @field_validator("four_eyes", mode="before")
    @classmethod
    def _four_eyes_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: send true or false")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("names no field to change")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


def valid_until_message(valid_from: datetime) -> str:
    return f"valid_until must be after valid_from ({valid_from.isoformat()})"


class AgreementState(enum.StrEnum):
    ACTIVE = "active"
    SCHEDULED = "scheduled"  # valid_from is in the future
    EXPIRED = "expired"  # valid_until has passed
    ENDED = "ended"  # ended by its NCB or the global desk


class AgreementOut(BaseModel):
    id: uuid.UUID
    agency_id: uuid.UUID
    country: str = Field(description="The agency's country, whose NCB granted it")
    request_types: list[RequestType] | None = Field(description="null: every request type")
    target_countries: list[str] | None = Field(description="null: every other country")
    priorities: list[Priority] | None = Field(description="null: every priority")
    valid_from: datetime
    valid_until: datetime | None
    conditions: str
    four_eyes: bool = Field(description=_FOUR_EYES)
    state: AgreementState = Field(description="Computed with the database clock")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    version: int

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class AgreementPage(BaseModel):
    items: list[AgreementOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
