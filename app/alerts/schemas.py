"""What the API shows of alerts: who was alerted about a request, how, when, and whether it
arrived; and the service's Web Push key."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.models.enums import Role
from app.models.outbox import MessageStatus, Route


class AlertedPerson(BaseModel):
    id: uuid.UUID
    agency_id: uuid.UUID
    country: str | None = Field(description="Its agency's country; null for the global desk")
    role: Role
    name: str | None = Field(
        description="Null where you may not see the person (app/identity/policy.py, "
        "`see people`): the role and country say who it was"
    )


class AlertOut(BaseModel):
    """One message to one person's contact method. Never its address nor its content."""

    id: uuid.UUID = Field(description="The message's id: the same on every attempt")
    event_type: str = Field(
        description="What caused it (`request.assigned`, `request.escalated`, "
        "`request.overdue`, `request.updated`), or `alert.withdrawn`: the notification a "
        "device showed is closed, once the request was acknowledged or ended"
    )
    reason: str | None = Field(
        description="Why this person: assigned, escalated, overdue, reminder, "
        "asked_for_information, responded; null for a withdrawal"
    )
    person: AlertedPerson
    route: Route = Field(description="How: email, web_push or gateway")
    contact_method_id: uuid.UUID
    created_at: datetime = Field(description="When the alert was written (with its event)")
    status: MessageStatus = Field(
        description="pending (to be sent, or sent again), sent, failed (every attempt failed, "
        "or the destination is gone), cancelled (acknowledged before it left)"
    )
    delivered: bool = Field(
        description="Whether the destination took it: the mail server, the push service, "
        "the gateway. Not that the person has seen it: an acknowledgement says that"
    )
    delivered_at: datetime | None
    attempts: int
    last_outcome: str | None = Field(
        description="The last attempt's: delivered, rejected, timeout, unreachable, refused, "
        "invalid, moot; null before the first"
    )
    last_status_code: int | None = Field(description="The destination's answer to it, if any")
    last_attempt_at: datetime | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class VapidPublicKey(BaseModel):
    application_server_key: str = Field(
        description="The service's VAPID public key (P-256, uncompressed point, base64url): "
        "pass it to PushManager.subscribe() as `applicationServerKey`. Changes only when the "
        "service's secret does; a subscription made with another key must be made again.",
        examples=[
            "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U"
        ],
    )
