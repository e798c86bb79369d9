"""Partner agreements over the API: the terms a private partner submits under."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.core.primitives import Instant
from app.models.enums import HandlingCode, UnmarkedObjects
from app.stix.markings import exceeds

# The object types STIX 2.1 defines (sections 4 to 7 and 12 of the standard): a partner may be
# allowed any of them, and nothing else (a typo would allow nothing and refuse everything).
STIX_TYPES = frozenset(
    {
        # Domain objects
        "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
        "indicator", "infrastructure", "intrusion-set", "location", "malware",
        "malware-analysis", "note", "observed-data", "opinion", "report", "threat-actor",
        "tool", "vulnerability",
        # Cyber-observable objects
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr",
        "email-message", "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex",
        "network-traffic", "process", "software", "url", "user-account",
        "windows-registry-key", "x509-certificate",
        # Relationship objects, meta objects
        "relationship", "sighting", "marking-definition", "language-content",
        "extension-definition",
    }
)  # fmt: skip


def _stix_types(value: list[str]) -> list[str]:
    unknown = sorted({name for name in value if name not in STIX_TYPES})
    if unknown:
        raise ValueError(
            f"{', '.join(repr(name[:64]) for name in unknown[:5])} "
            f"{'is not' if len(unknown) == 1 else 'are not'} STIX 2.1 object types"
            " (types are named as the standard names them: indicator, ipv4-addr, domain-name…)"
        )
    if len(set(value)) != len(value):
        raise ValueError("lists a type more than once")
    return value


ObjectTypes = Annotated[
    list[Annotated[str, Field(max_length=64)]],
    Field(min_length=1, max_length=len(STIX_TYPES)),
    AfterValidator(_stix_types),
]


class PartnerAgreementTerms(BaseModel):
    """The whole of an agreement's terms (PUT replaces them all)."""

    model_config = ConfigDict(extra="forbid")

    object_types: ObjectTypes = Field(description="The STIX 2.1 types the partner may submit")
    daily_object_limit: int = Field(ge=1, le=100_000_000, description="Objects per UTC day")
    handling_ceiling: HandlingCode = Field(
        description="The most restrictive TLP an object may carry: above it, it is refused"
    )
    unmarked: UnmarkedObjects = Field(
        description="An object without a TLP marking: refused, or given `default_handling`"
    )
    default_handling: HandlingCode | None = Field(
        default=None, description="Required when `unmarked` is `default`; null otherwise"
    )
    retention_days: int = Field(
        ge=1, le=36500, description="How long its data is kept after it was added"
    )
    valid_from: Instant | None = Field(
        default=None, description="null: now for a new agreement, unchanged for an existing one"
    )
    valid_until: Instant | None = Field(default=None, description="null: until changed")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.unmarked is UnmarkedObjects.DEFAULT and self.default_handling is None:
            raise ValueError(
                "default_handling: unmarked objects take the default handling code, so one is "
                "needed (or set unmarked to refuse)"
            )
        if self.unmarked is UnmarkedObjects.REFUSE and self.default_handling is not None:
            raise ValueError(
                "default_handling: unmarked objects are refused, so a default handling code "
                "would never apply: send null (or set unmarked to default)"
            )
        if self.default_handling is not None and exceeds(
            self.default_handling, self.handling_ceiling
        ):
            raise ValueError(
                f"default_handling: {self.default_handling.value} is above the ceiling "
                f"{self.handling_ceiling.value}: every unmarked object would be refused"
            )
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError(valid_until_message(self.valid_from))
        return self


def valid_until_message(valid_from: datetime) -> str:
    return f"valid_until must be after valid_from ({valid_from.isoformat()})"


class PartnerAgreementState(enum.StrEnum):
    ACTIVE = "active"
    SCHEDULED = "scheduled"  # valid_from is in the future
    EXPIRED = "expired"  # valid_until has passed: every submission is refused


class PartnerAgreementOut(BaseModel):
    id: uuid.UUID
    partner_agency_id: uuid.UUID
    object_types: list[str]
    daily_object_limit: int
    handling_ceiling: HandlingCode
    unmarked: UnmarkedObjects
    default_handling: HandlingCode | None
    retention_days: int
    valid_from: datetime
    valid_until: datetime | None
    state: PartnerAgreementState = Field(description="Computed with the database clock")
    inbox_collection_id: uuid.UUID | None = Field(
        description="The partner's TAXII inbox collection, where its submissions land"
    )
    created_at: datetime
    updated_at: datetime
    updated_by: uuid.UUID | None


class PartnerAgreementPage(BaseModel):
    items: list[PartnerAgreementOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
