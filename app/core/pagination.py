"""Opaque keyset cursors: newest first, by (created_at, id); oldest first, by position or by id."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.errors import InvalidInputError
from app.core.primitives import Instant

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_NOT_OURS = "cursor is not one this service issued: pass next_cursor back unchanged"
PayloadT = TypeVar("PayloadT", bound=BaseModel)


def _encode(payload: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode(value: str, model: type[PayloadT]) -> PayloadT:
    """The payload of a cursor this service encoded; a 422 for anything else (bad base64, bad
    JSON, another shape, a value out of range): every cursor kind decodes here."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return model.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise InvalidInputError(_NOT_OURS, field="cursor") from exc


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
        return _encode({"t": self.created_at.isoformat(), "i": str(self.id)})

    @classmethod
    def decode(cls, value: str) -> Cursor:
        payload = _decode(value, _Payload)
        return cls(created_at=payload.t, id=payload.i)


# The largest integer a cursor carries. A Postgres bigint holds up to 2**63 - 1, but a read
# may record where it started in its own audit entry, whose canonical form (RFC 8785, I-JSON)
# carries integers up to 2**53 - 1 only: a forged cursor between the two must be a 422 here,
# not an entry that cannot be written (a 500). No sequence of the service comes near it.
CURSOR_INT_MAX = 2**53 - 1


class _PositionPayload(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    r: uuid.UUID
    p: Annotated[int, Field(ge=0, le=CURSOR_INT_MAX)]


@dataclass(frozen=True, slots=True)
class PositionCursor:
    """An opaque cursor over a request's append-only sequence read oldest first (its history,
    its thread): the next page starts after ``position``. It names its request, so a cursor
    passed to another request's list is refused rather than silently skipping part of it."""

    request_id: uuid.UUID
    position: int

    def encode(self) -> str:
        return _encode({"r": str(self.request_id), "p": self.position})

    @classmethod
    def decode(cls, value: str, request_id: uuid.UUID, *, largest: int = CURSOR_INT_MAX) -> int:
        """The position after which the page starts; ``largest``: the column's largest value."""
        payload = _decode(value, _PositionPayload)
        if payload.r != request_id:
            raise InvalidInputError("cursor was issued for another request", field="cursor")
        if payload.p > largest:
            raise InvalidInputError(_NOT_OURS, field="cursor")
        return payload.p


class _SequencePayload(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    s: Annotated[int, Field(ge=0, le=CURSOR_INT_MAX)]


@dataclass(frozen=True, slots=True)
class SequenceCursor:
    """An opaque cursor over a table read oldest first by its bigint id (the audit trail): the
    next page starts after ``last_id``."""

    last_id: int

    def encode(self) -> str:
        return _encode({"s": self.last_id})

    @classmethod
    def decode(cls, value: str) -> SequenceCursor:
        return cls(_decode(value, _SequencePayload).s)
