"""What /v1/shared-data takes and gives: share collections, submission statuses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.primitives import CountryCode, Text
from app.models.enums import CollectionKind


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Text(min_length=1, max_length=200)]
    description: Annotated[str, Text(max_length=1000)] | None = None
    audience: Annotated[list[CountryCode], Field(min_length=1, max_length=300)] | None = Field(
        default=None,
        description="The countries that read the share; null: the whole network.",
    )


class CollectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: CollectionKind
    title: str
    description: str | None
    owner_agency_id: uuid.UUID | None
    audience: list[str] | None
    created_at: datetime
    taxii_url: str = Field(description="The collection in the TAXII 2.1 API root")


class SubmissionStatus(BaseModel):
    """A submission's status: the TAXII 2.1 status resource's fields, as JSON."""

    id: uuid.UUID
    status: str
    request_timestamp: str
    total_count: int
    success_count: int
    failure_count: int
    failures: list[dict[str, Any]]
    pending_count: int
