"""TAXII 2.1 error messages (section 3.6.1): every refusal of a TAXII route is one, with the
TAXII media type, never an RFC 9457 problem (which a TAXII client does not read)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from app.core.errors import DomainError

MEDIA_TYPE = "application/taxii+json;version=2.1"


class TaxiiError(Exception):
    """A refusal with its HTTP status, a short title and a description for a person."""

    def __init__(
        self,
        status: int,
        title: str,
        description: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.title = title
        self.description = description
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, error: DomainError) -> TaxiiError:
        """The service's own domain errors, as TAXII says them."""
        headers: dict[str, str] = {}
        if error.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        if error.close_connection:
            headers["Connection"] = "close"
        return cls(error.status, error.title, error.detail, headers=headers)


class TaxiiResponse(Response):
    """JSON with the TAXII 2.1 media type, rendered by orjson (a page holds up to a thousand
    objects)."""

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(error: TaxiiError) -> TaxiiResponse:
    body = {
        "title": error.title,
        "description": error.description,
        "http_status": str(error.status),
    }
    return TaxiiResponse(body, status_code=error.status, headers=error.headers)
