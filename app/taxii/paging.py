"""The opaque ``next`` token of TAXII paging (section 3.4): where the next page starts.

Encoded as app/core/pagination.py encodes its cursors (URL-safe base64 of a small JSON
payload, decoded strictly), and signed besides: HMAC-SHA256 with a key derived from the
service secret, over the payload and the *query* it continues (the collection, the endpoint
and every filter). A token is only ever one this service issued for this same query: a forged
or altered one, or one carried over to another collection or other filters, is a 400 TAXII
error, never a page of something else. The key is the same on every instance, so any instance
serves the next page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.pagination import CURSOR_INT_MAX
from app.core.primitives import Instant
from app.taxii.errors import TaxiiError

KEY_PURPOSE = "taxii.next"
_MAC_BYTES = 16


class _Payload(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    t: Instant
    r: Annotated[int, Field(ge=0, le=CURSOR_INT_MAX)]


@dataclass(frozen=True, slots=True)
class Position:
    """The last item of a page, in the order pages follow: (date_added, row_id)."""

    date_added: datetime
    row_id: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, query: str, payload: str) -> bytes:
    return hmac.new(key, f"{query}\n{payload}".encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def encode(key: bytes, query: str, position: Position) -> str:
    raw = _Payload(t=position.date_added, r=position.row_id).model_dump_json().encode()
    payload = _b64(raw)
    return f"{payload}.{_b64(_mac(key, query, payload))}"


def _forged() -> TaxiiError:
    return TaxiiError(
        400,
        "Invalid next",
        "`next` is not a token this server issued for this query: pass back the `next` of "
        "the previous page unchanged, with the same filters",
    )


def decode(key: bytes, query: str, token: str) -> Position:
    payload, _, mac = token.partition(".")
    try:
        if len(token) > 512 or not hmac.compare_digest(_unb64(mac), _mac(key, query, payload)):
            raise _forged()
        parsed = _Payload.model_validate_json(_unb64(payload))
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise _forged() from exc
    return Position(parsed.t, parsed.r)
