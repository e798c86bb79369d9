"""What an alert says, for the couriers that speak to people (e-mail) or to gateways that
do (SMS, voice): metadata only (type, priority, countries, TLP label, deadlines, links), from
the payload the fan-out wrote (app/outbox/fanout.py), never a request's content, which is not
in it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.alerts import ack_links
from app.core.service_secret import ServiceSecret
from app.core.settings import OutboxSettings
from app.outbox.couriers import Leased
from app.web.security import WEB_PREFIX

# Why the person is alerted (app/alerts/rules.py's reasons), as a sentence's start.
_REASONS = {
    "assigned": "A request is waiting for you",
    "escalated": "A request has been escalated to you",
    "repeat": "A request is still not acknowledged",
    "overdue": "A request is overdue",
    "reminder": "A request is still overdue",
    "asked_for_information": "The other side asks your agency for information",
    "responded": "The other side has responded to your agency's request",
    "approval_needed": "An emergency disclosure waits for your approval (four-eyes)",
    "approval_refused": "Your emergency disclosure was refused approval",
    "approval_expired": "Your emergency disclosure expired unapproved",
}
# A drill's alert starts with these: it must never be taken for a real request.
_DRILL_LINES = (
    "DRILL. This is a readiness drill of the 24/7 network, not a real request.",
    "Acknowledge it as you would a real one; nothing else is asked.",
    "",
)
# What a drill's alert says, by reason: overdue means the drill failed.
_DRILL_REASONS = {
    "overdue": "A drill failed: nobody acknowledged it in time",
    "reminder": "A failed drill is still not acknowledged",
}
# The alerts of the side that must acknowledge: only they carry an acknowledge link.
_ACKNOWLEDGED_BY_LINK = frozenset({"assigned", "escalated", "repeat", "overdue", "reminder"})
_DEADLINES = (
    ("ack_due_at", "Acknowledge by"),
    ("overdue_at", "Overdue at"),
    ("response_due_at", "Response due"),
    ("expires_at", "Approve by"),
)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, in words and links."""

    reason: str
    headline: str
    request_id: str
    type: str
    priority: str
    requesting_country: str
    target_country: str
    tlp: str
    deadlines: list[tuple[str, str]]
    request_url: str
    ack_url: str | None  # None: nothing to acknowledge by link (the requester's alerts)
    # A readiness drill (app/drills/): said first in the subject and the text.
    drill: bool = False

    @property
    def subject(self) -> str:
        if self.drill:
            return f"[relay247] DRILL {self.target_country} desk: {self.headline}"
        return (
            f"[relay247] {self.priority.upper()} {self.type.replace('_', ' ')} "
            f"{self.requesting_country} to {self.target_country}: {self.headline}"
        )

    def lines(self, ack_link_lifetime_minutes: int) -> list[str]:
        lines = [
            *(_DRILL_LINES if self.drill else ()),
            f"{self.headline}.",
            "",
            f"Request:  {self.request_id}",
            f"Type:     {self.type.replace('_', ' ')}",
            f"Priority: {self.priority.upper()}",
            f"From:     {self.requesting_country}",
            f"To:       {self.target_country}",
            f"Handling: {self.tlp}",
            *(f"{label}: {at}" for label, at in self.deadlines),
            "",
            f"Open it: {self.request_url}",
        ]
        if self.ack_url is not None:
            lines += [
                "",
                "Acknowledge it without signing in (the link works once, for "
                f"{ack_link_lifetime_minutes} minutes, for you only):",
                self.ack_url,
            ]
        lines += [
            "",
            "This alert carries none of the request's content: read it on the dashboard.",
        ]
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "headline": self.headline,
            "request_id": self.request_id,
            "type": self.type,
            "priority": self.priority,
            "requesting_country": self.requesting_country,
            "target_country": self.target_country,
            "tlp": self.tlp,
            "deadlines": {label: at for label, at in self.deadlines},
            "request_url": self.request_url,
            "ack_url": self.ack_url,
            "drill": self.drill,
        }


def _when(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return None


def base_url(settings: OutboxSettings) -> str:
    return settings.public_url.rstrip("/")


def request_url(settings: OutboxSettings, request_id: uuid.UUID | str) -> str:
    """The dashboard's page of the request."""
    return f"{base_url(settings)}{WEB_PREFIX}/requests/{request_id}"


def alert(message: Leased, settings: OutboxSettings, secret: ServiceSecret) -> Alert:
    """The alert ``message`` carries (an event's payload with its ``alert`` part)."""
    payload = message.payload
    reason = str(payload.get("alert", {}).get("reason", "assigned"))
    request_id = str(payload.get("request_id") or message.request_id)
    acknowledgeable = reason in _ACKNOWLEDGED_BY_LINK and not payload.get("acknowledged_at")
    drill = bool(payload.get("drill_id"))
    headline = _REASONS.get(reason, "A request needs you")
    return Alert(
        reason=reason,
        headline=_DRILL_REASONS.get(reason, headline) if drill else headline,
        request_id=request_id,
        type=str(payload.get("type", "request")),
        priority=str(payload.get("priority", "")),
        requesting_country=str(payload.get("requesting_country", "")),
        target_country=str(payload.get("target_country", "")),
        tlp=f"TLP:{payload.get('handling_code', '')}",
        deadlines=[
            (label, when)
            for key, label in _DEADLINES
            if (when := _when(payload.get(key))) is not None
            # A held request's approval time matters only while it waits.
            and (key != "expires_at" or payload.get("status") == "awaiting_approval")
        ],
        request_url=request_url(settings, request_id),
        ack_url=ack_links.url(settings, ack_links.token(secret, message.id))
        if acknowledgeable
        else None,
        drill=drill,
    )
