"""What a Web Push notification says, built from the outbox message (metadata only: the
event data of app/requests/views.event_data and the fan-out's ``alert``), never a request's
content. The service worker shows ``title`` and ``body``, opens ``url`` on a click, and posts
``ack`` to /v1/ack-links/{token} from its Acknowledge action; a ``withdraw`` closes the
notification of that request; a ``verify`` shows the code that confirms the device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models.enums import Priority, RequestType

ALERT = "alert"
WITHDRAW = "withdraw"
VERIFY = "verify"

# The event types the courier carries besides alerts (app/outbox/fanout.py writes the
# withdrawals; the contact methods' verification writes the test message).
WITHDRAWN_EVENT = "alert.withdrawn"
VERIFY_EVENT = "contact.verify"

_TYPES: dict[str, str] = {
    RequestType.PRESERVATION: "Preservation",
    RequestType.TRAFFIC_DATA: "Traffic data",
    RequestType.SUBSCRIBER_INFO: "Subscriber information",
    RequestType.EMERGENCY_DISCLOSURE: "Emergency disclosure",
    RequestType.MUTUAL_ASSISTANCE: "Mutual assistance",
    RequestType.TECHNICAL_ASSISTANCE: "Technical assistance",
    RequestType.INCIDENT_SUPPORT: "Incident support",
    RequestType.INFORMATION_SHARING: "Information sharing",
}
DRILL_LINE = "A drill, not a real request: acknowledge it, nothing else"
# The reasons of the people who hold the request, who may acknowledge it from the alert.
ACKNOWLEDGEABLE = frozenset({"assigned", "escalated", "repeat", "overdue", "reminder"})
_REASONS = {
    "assigned": "Assigned to you",
    "escalated": "Escalated to you",
    "repeat": "Still not acknowledged",
    "overdue": "Overdue: not acknowledged in time",
    "reminder": "Still overdue",
    "asked_for_information": "The other side asks for information",
    "responded": "The other side responded",
    "approval_needed": "Waits for your approval (four-eyes)",
    "approval_refused": "Refused approval",
    "approval_expired": "Expired unapproved",
}


def _when(value: str | None) -> str | None:
    if not value:
        return None
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


def deadline(data: dict[str, Any]) -> tuple[str, str | None]:
    """The deadline that matters now: acknowledgement, then the response (for a request held
    for four-eyes: its approval's, while it waits)."""
    if "approval_id" in data:
        waiting = data.get("status") == "awaiting_approval"
        return "approve by", data.get("expires_at") if waiting else None
    if not data.get("acknowledged_at"):
        return "acknowledge by", data.get("ack_due_at")
    return "respond by", data.get("response_due_at")


def alert(
    data: dict[str, Any], *, message_id: str, url: str, ack: str | None, ack_url: str | None
) -> dict[str, Any]:
    """An alert's notification: what, how urgent, between which countries, under which TLP
    label, by when, and why this person."""
    request_id = str(data["request_id"])
    priority = str(data.get("priority", ""))
    kind = _TYPES.get(str(data.get("type")), str(data.get("type")))
    countries = [data.get("requesting_country"), data.get("target_country")]
    tlp = f"TLP:{data['handling_code']}" if data.get("handling_code") else None
    label, due = deadline(data)
    reason = str((data.get("alert") or {}).get("reason", ""))
    urgency = "EMERGENCY " if priority == Priority.EMERGENCY.value else ""
    drill = bool(data.get("drill_id"))
    if drill:
        # A readiness drill (app/drills/): said first, so no one mistakes it for a request.
        title = f"DRILL: readiness test of the {countries[1]} desk"
    else:
        title = f"{urgency}{kind} request {countries[0]} \u2192 {countries[1]}"
    lines = [
        DRILL_LINE if drill else None,
        _REASONS.get(reason, reason),
        " \u00b7 ".join(
            part for part in (priority.capitalize(), tlp, _due_text(label, due)) if part
        ),
    ]
    return {
        "kind": ALERT,
        "id": message_id,
        "request_id": request_id,
        "reason": reason,
        "type": data.get("type"),
        "priority": priority,
        "countries": countries,
        "tlp": tlp,
        "drill": drill,
        "deadline": due,
        "title": title,
        "body": "\n".join(line for line in lines if line),
        "url": url,
        "ack": ack,
        "ack_url": ack_url,
        # The notification's tag on the device: a repeat replaces the one shown.
        "tag": request_id,
    }


def _due_text(label: str, due: str | None) -> str | None:
    when = _when(due)
    return f"{label} {when}" if when else None


def withdraw(request_id: str, *, message_id: str) -> dict[str, Any]:
    return {"kind": WITHDRAW, "id": message_id, "withdraw": request_id, "tag": request_id}


def verify(code: str, *, message_id: str) -> dict[str, Any]:
    return {
        "kind": VERIFY,
        "id": message_id,
        "verify": code,
        "title": "relay247: confirm this device",
        "body": f"Your code: {code}",
    }
