"""Webhook endpoints, their delivery log and recovery over REST."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.primitives import Instant, Text
from app.models.enums import HandlingCode
from app.webhooks.catalogue import EVENTS

MAX_EVENT_TYPES = len(EVENTS)


class Scheme(enum.StrEnum):
    """How messages are signed (Standard Webhooks): ``v1`` HMAC-SHA256 with a ``whsec_``
    secret both sides hold; ``v1a`` Ed25519, the agency holding only the ``whpk_`` public key
    (a leak at the receiver lets nobody forge a message)."""

    V1 = "v1"
    V1A = "v1a"


Url = Annotated[
    str,
    Text(min_length=1, max_length=2048),
    Field(
        description="Where messages are POSTed: https:// (http only where the service allows "
        "it); never a private, loopback or link-local address",
        examples=["https://cases.example.org/relay247/webhooks"],
    ),
]
Description = Annotated[str, Text(max_length=200)]
EventType = Annotated[
    str,
    Text(max_length=64),
    Field(json_schema_extra={"enum": list(EVENTS)}),
]


def _known_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    for index, event_type in enumerate(value):
        if event_type not in EVENTS:
            raise ValueError(
                f"event_types[{index}]: {event_type!r} is not an event type "
                f"(one of {', '.join(EVENTS)})"
            )
    if len(set(value)) != len(value):
        raise ValueError("lists an event type twice")
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EndpointCreate(_Input):
    url: Url
    description: Description = ""
    event_types: list[EventType] = Field(
        default_factory=list,
        max_length=MAX_EVENT_TYPES,
        description="The event types sent; empty: every one",
    )
    tlp_ceiling: HandlingCode = Field(
        default=HandlingCode.AMBER,
        description="Above it, a message carries the request's id and the event type only",
    )
    scheme: Scheme = Scheme.V1

    _types = field_validator("event_types")(_known_types)


class EndpointPatch(_Input):
    url: Url | None = None
    description: Description | None = None
    event_types: list[EventType] | None = Field(default=None, max_length=MAX_EVENT_TYPES)
    tlp_ceiling: HandlingCode | None = None
    enabled: bool | None = Field(
        default=None,
        description="false: nothing is sent (waiting messages fail); true: sent again, and "
        "the failure clock starts afresh",
    )

    _types = field_validator("event_types")(_known_types)


class EndpointRotate(_Input):
    scheme: Scheme | None = Field(
        default=None, description="The new secret's scheme; default: the current one"
    )


class EndpointOut(BaseModel):
    id: uuid.UUID
    agency_id: uuid.UUID
    url: str
    description: str
    channels: list[str] = Field(description="What it hears, fixed from its agency")
    event_types: list[str]
    tlp_ceiling: HandlingCode
    scheme: Scheme
    public_key: str | None = Field(
        description="v1a: the whpk_ key receivers verify with (not a secret)"
    )
    previous_secret_until: datetime | None = Field(
        description="Until then the previous secret signs too (a rotation's overlap)"
    )
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    created_by: uuid.UUID | None = Field(description="None: made by an operator at the shell")


class EndpointIssued(EndpointOut):
    """The endpoint with its new secret, shown this once."""

    secret: str = Field(
        description="v1: the whsec_ secret to verify with; v1a: the whpk_ public key. Shown "
        "once: relay247 keeps it sealed"
    )


class EndpointPage(BaseModel):
    items: list[EndpointOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    duration_ms: int = Field(description="Latency of the attempt")
    outcome: str
    status_code: int | None
    response: str | None = Field(description="The start of the answer (at most 1 KiB)")


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="The message's webhook-id")
    event_type: str
    request_id: uuid.UUID | None
    status: str
    created_at: datetime
    due_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class Recover(_Input):
    since: Instant
    until: Instant | None = Field(default=None, description="Default: now")


class Recovered(BaseModel):
    requeued: int = Field(description="Failed messages of the range queued again")


def issued(view: EndpointOut, secret: str) -> EndpointIssued:
    data: dict[str, Any] = view.model_dump()
    return EndpointIssued(**data, secret=secret)
