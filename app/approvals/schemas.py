"""What the four-eyes API takes and shows (docs/four-eyes.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.primitives import Text
from app.directory.person_refs import PersonRef
from app.models.enums import (
    ApprovalRequirement,
    ApprovalStatus,
    HandlingCode,
    Priority,
    RequestType,
    Role,
)
from app.requests.schemas import RequestContentOut

Reason = Annotated[str, Text(min_length=1, max_length=500)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApprovalNote(_Input):
    """An approval, or a cancel: a reason is optional."""

    reason: Reason | None = Field(default=None, description="Why, for the audit trail")


class ApprovalRefusal(_Input):
    """A refusal: its reason is required, and shown to the requester."""

    reason: Reason = Field(description="Why it is refused: the requester reads it")


class ApprovalOut(BaseModel):
    """An emergency disclosure held for a second officer's approval, as its reader may see it
    (metadata; ``content`` only in GET /v1/approvals/{id} while it waits)."""

    id: uuid.UUID = Field(
        description="Also the id of the request it becomes once approved (/v1/requests/{id})"
    )
    status: ApprovalStatus = Field(
        description="awaiting_approval: held, not sent; approved: sent on as request `id`; "
        "refused (see `reason`), expired, cancelled: ended, never sent"
    )
    required_by: ApprovalRequirement = Field(
        description="What asked for approval: the sending agency's agreement, or its "
        "country's policy"
    )
    type: RequestType
    priority: Priority
    requesting_agency_id: uuid.UUID
    requesting_country: str
    target_country: str
    created_by: uuid.UUID = Field(description="The officer who submitted it (cannot approve it)")
    headline: str | None
    handling_code: HandlingCode
    content_hash: str
    created_at: datetime
    expires_at: datetime = Field(
        description="Undecided by then, it expires (RELAY247_FOUR_EYES_EXPIRY after submission)"
    )
    decided_at: datetime | None = Field(
        description="When it was approved, refused, expired or cancelled"
    )
    decided_by: uuid.UUID | None = Field(description="Who decided (null: it expired)")
    decided_role: Role | None = Field(description="The decider's role: unit or ncb")
    reason: str | None = Field(description="The decider's reason (a refusal's is required)")
    version: int
    request_id: uuid.UUID | None = Field(
        description="The request it was sent as, once approved; null otherwise"
    )
    may_decide: bool = Field(description="Whether you may approve or refuse it now")
    sender: PersonRef | None = Field(
        default=None,
        description="Who sent it, as you may know them (GET /v1/approvals/{id} only)",
    )
    decider: PersonRef | None = Field(
        default=None,
        description="Who decided it, as you may know them (GET /v1/approvals/{id} only)",
    )
    content: RequestContentOut | None = Field(
        default=None,
        description="What it asks for, while it waits, for who may decide it or sent it; null "
        "in lists and once decided",
    )


class ApprovalPage(BaseModel):
    items: list[ApprovalOut] = Field(description="A page of held requests, newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: none")
