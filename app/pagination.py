"""Opaque keyset cursors: newest first, by (created_at, id)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from app.errors import InvalidInputError
from app.schemas.primitives import Instant

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class _Payload(BaseModel):
    """What a cursor decodes to. Strict: a cursor is only ever one this service encoded, so
    anything else (a number for the id, a naive or unrepresentable time) is a forgery."""

    model_config = ConfigDict(strict=True, extra="forbid")

    t: Instant
    i: uuid.UUID


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps({"t": self.created_at.isoformat(), "i": str(self.id)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            payload = _Payload.model_validate_json(raw)
        except (binascii.Error, ValueError, ValidationError) as exc:
            raise InvalidInputError(
                "cursor is not one this service issued: pass next_cursor back unchanged"
            ) from exc
        return cls(created_at=payload.t, id=payload.i)
