"""The legal hold, as set and shown over the API."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.primitives import Text
from app.requests.schemas import LegalHoldOut


class LegalHoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, Text(min_length=1, max_length=500)] = Field(
        description="Why the content must outlive its retention (a court order, a case number)"
    )


class LegalHoldState(BaseModel):
    request_id: uuid.UUID
    legal_hold: LegalHoldOut | None = Field(description="The hold in force, or null")
    version: int = Field(description="The request's version after this call")
    changed: bool = Field(
        description="False when the request was already in the asked state: nothing was written"
    )
