"""The legal hold of a shared object, as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class ObjectHoldState(BaseModel):
    row_id: int
    legal_hold_at: datetime | None = Field(description="Since when it is held; null: not held")
    legal_hold_by: uuid.UUID | None
    purge_after: datetime
    purged_at: datetime | None
    changed: bool = Field(
        description="False when the object was already in the asked state: nothing was written"
    )
