"""The global desk's triage of partners' submissions, and a partner's view of its own."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.primitives import Text
from app.models.enums import Feedback, HandlingCode, Triage

# The note is told to the partner (a question it must answer, why its object was refused):
# the column holds 1000 characters.
Note = Annotated[str, Text(max_length=1000)]


class Decision(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    REQUEST_INFO = "request_info"


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Decision
    note: Note = Field(
        default="",
        description="Shown to the partner with the outcome (what more is needed, why refused)",
    )


class TriageCounts(BaseModel):
    quarantined: int = Field(description="Objects waiting for the global desk")
    info_requested: int = Field(description="Objects waiting for the partner's answer")
    accepted: int = 0
    rejected: int = 0


class QueueCounts(BaseModel):
    """The whole queue's (within the filters), whatever the page."""

    quarantined: int
    info_requested: int
    submissions: int = Field(description="Submissions with an object still quarantined")
    oldest_added: datetime | None = Field(description="When the oldest waiting object came")
    oldest_age_seconds: int | None


class QueuedObject(BaseModel):
    row_id: int
    submission_id: uuid.UUID | None
    partner_agency_id: uuid.UUID
    partner: str = Field(description="The partner agency's name")
    stix_id: str
    type: str
    version: datetime
    handling_code: HandlingCode
    triage: Triage
    date_added: datetime
    age_seconds: int = Field(description="How long it has waited, by the database clock")
    decision_note: str | None


class QueuePage(BaseModel):
    items: list[QueuedObject]
    counts: QueueCounts
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class SubmissionOut(BaseModel):
    id: uuid.UUID
    collection_id: uuid.UUID
    agency_id: uuid.UUID
    agency: str
    format: str
    status: str = Field(description="The TAXII status: pending or complete")
    total_count: int
    success_count: int
    failure_count: int
    failures: list[dict[str, Any]] = Field(description="Why each refused object was refused")
    created_at: datetime
    triage: TriageCounts = Field(description="Where its stored objects stand")
    feedback: int = Field(description="Sightings written back about its objects")


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    next_cursor: str | None


class FeedbackOut(BaseModel):
    kind: Feedback
    count: int
    last_seen: datetime


class SubmittedObject(BaseModel):
    """One stored object of a submission, with its outcome as the partner is told it."""

    row_id: int
    stix_id: str
    type: str
    version: datetime
    handling_code: HandlingCode
    triage: Triage | None
    decided_at: datetime | None
    decision_note: str | None
    date_added: datetime
    purged_at: datetime | None
    feedback: list[FeedbackOut]


class SubmittedObjectPage(BaseModel):
    items: list[SubmittedObject]
    next_cursor: str | None


class DecidedObject(BaseModel):
    row_id: int
    stix_id: str
    triage: Triage
    gateway_row_id: int | None = Field(description="The accepted copy in the gateway")


class DecisionOut(BaseModel):
    decision: Decision
    decided: list[DecidedObject]
    queue: TriageCounts = Field(description="The whole queue after this decision")


class StoredObject(BaseModel):
    """A stored object with its content (null once purged): partner data, to be shown as
    text, never as markup."""

    row_id: int
    collection_id: uuid.UUID
    collection_kind: str
    submission_id: uuid.UUID | None
    origin: str
    source_row_id: int | None
    stix_id: str
    type: str
    version: datetime
    date_added: datetime
    handling_code: HandlingCode
    triage: Triage | None
    object_hash: str
    object: dict[str, Any] | None
    purge_after: datetime
    purged_at: datetime | None
    legal_hold_at: datetime | None


class StoredObjectPage(BaseModel):
    items: list[StoredObject]
    next_cursor: str | None
