"""What the report endpoints take and give."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.primitives import Text

NETWORK = "network"


class ReportKind(enum.StrEnum):
    WEEKLY = "weekly"  # an ISO week, Monday 00:00 UTC to the next
    MONTHLY = "monthly"  # a calendar month, UTC
    ON_DEMAND = "on_demand"  # any whole UTC days someone asked for


class ReportRequest(BaseModel):
    """A report made now, of whole UTC days [`from`, `to`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scope: Annotated[str, Text(pattern=r"^(network|[A-Z]{2})$")] = Field(
        description="`network` (the global desk only) or a country code (the global desk, "
        "or that country's NCB)",
        examples=["DE"],
    )
    start: date = Field(alias="from", description="The first UTC day the report covers")
    end: date = Field(alias="to", description="The UTC day after the last it covers")


class ReportOut(BaseModel):
    id: uuid.UUID
    scope: str = Field(description="`network` or the country code")
    kind: ReportKind
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    pdf_sha256: str
    csv_sha256: str
    key_id: str = Field(description="The service key that signed the manifest")
    links: dict[str, str] = Field(description="pdf, csv and manifest downloads")


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")
