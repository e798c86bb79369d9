"""The events a case system can be told of, as the OpenAPI document's ``webhooks`` section
shows them (OpenAPI 3.1): one entry per event type, each with the thin body it carries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from app.models.enums import HandlingCode

# Event type -> what it means. The fan-out writes one message per endpoint that hears the
# event's channels (and lists its type, or lists none).
EVENTS: dict[str, str] = {
    "request.assigned": "A request arrived at a desk, or was handed to a contact point.",
    "request.delivered": "A request was put on the screen of someone at the target desk.",
    "request.acknowledged": "The target desk acknowledged a request.",
    "request.updated": "A request changed otherwise: started, answered, closed, put on hold...",
    "request.escalated": "Nobody acknowledged in time: the request reached the next step.",
    "request.overdue": "Every escalation step passed without an acknowledgement.",
    "request.response_warning": "Part of the time to respond has passed.",
    "request.breached": "The time to respond has passed.",
    "message.posted": "A message was written in a request's thread.",
    "file.added": "A file was added to a request.",
    "request.matched": "Shared data carries one of a request's identifiers (to its sender; "
    "GET /v1/requests/{id}/matches shows which).",
}


class ThinData(BaseModel):
    """Metadata only: the case system fetches content through the audited API. Above the
    endpoint's TLP ceiling, ``request_id`` alone."""

    request_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = Field(default=None, description="message.posted")
    file_id: uuid.UUID | None = Field(default=None, description="file.added")
    type: str | None = Field(default=None, description="The request's type")
    priority: str | None = None
    status: str | None = None
    requesting_country: str | None = None
    target_country: str | None = None
    handling_code: HandlingCode | None = Field(default=None, description="TLP")
    version: int | None = Field(default=None, description="The request's version (ETag)")


class WebhookBody(BaseModel):
    """The Standard Webhooks body (https://www.standardwebhooks.com)."""

    type: str = Field(description="The event type")
    timestamp: datetime = Field(description="When the event happened")
    data: ThinData


def _operation(event_type: str, description: str) -> Any:
    async def receive(
        body: WebhookBody,
        webhook_id: str = Header(description="The message's id: the same on every retry"),
        webhook_timestamp: int = Header(description="Unix seconds of this attempt"),
        webhook_signature: str = Header(
            description="`v1,<base64>` (HMAC-SHA256, whsec_) or `v1a,<base64>` (Ed25519, "
            "whpk_), space separated while a rotated secret still signs"
        ),
    ) -> None:
        """Answer 2xx within 15 s: anything else (a redirect included) is a failed attempt,
        retried on the schedule; 410 disables the endpoint."""

    receive.__doc__ = f"{description}\n\n{receive.__doc__}"
    return receive


def router() -> APIRouter:
    """The catalogue, for ``app.webhooks.include_router``."""
    catalogue = APIRouter()
    for event_type, description in EVENTS.items():
        catalogue.post(
            event_type,
            summary=description,
            operation_id=f"webhook_{event_type.replace('.', '_')}",
            tags=["webhooks"],
        )(_operation(event_type, description))
    return catalogue
