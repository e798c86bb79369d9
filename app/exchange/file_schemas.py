"""Evidence files as the API shows them: metadata (the bytes are read with an audited GET)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.primitives import Text
from app.models.enums import HandlingCode, OnwardUse, Side


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    request_id: uuid.UUID
    message_id: uuid.UUID | None
    name: str | None = Field(
        description="The sanitised file name. Null for a caller who may not read the file's "
        "content (an auditor, or below its TLP code) and once the file is purged: a name often "
        "names a person."
    )
    content_type: str = Field(
        description="Sniffed from the bytes (never the client's word): image/png, "
        "application/pdf, text/plain, ... or application/octet-stream"
    )
    declared_type: str | None = Field(description="The Content-Type the uploader sent")
    size: int = Field(description="Bytes")
    sha256: str = Field(description="SHA-256 of the bytes, hex")
    handling_code: HandlingCode
    onward_use: list[OnwardUse]
    handling_note: str | None
    side: Side
    uploaded_by: uuid.UUID = Field(description="Who uploaded it (or re-shared it here)")
    agency_id: uuid.UUID = Field(
        description="The owner: the agency that uploaded the original, whose permission an H2 "
        "file needs to be re-shared"
    )
    created_at: datetime
    shared_from: uuid.UUID | None = Field(description="The file this one was re-shared from")
    purged_at: datetime | None


class FilePage(BaseModel):
    items: list[FileOut]
    next_cursor: str | None


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: uuid.UUID = Field(description="The request to re-share the file into")


class SharePermissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: uuid.UUID = Field(description="The request the file may be re-shared into")
    reason: Annotated[str, Text(min_length=1, max_length=500)] | None = None


class SharePermissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    file_id: uuid.UUID
    request_id: uuid.UUID
    granted_by: uuid.UUID
    agency_id: uuid.UUID
    reason: str | None
    created_at: datetime
