"""Opaque keyset cursors: newest first, by (created_at, id)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.errors import InvalidInputError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


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
            raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            return cls(created_at=datetime.fromisoformat(raw["t"]), id=uuid.UUID(raw["i"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(
                "cursor is not one this service issued: pass next_cursor back unchanged"
            ) from exc
