"""Who is alerted, for which event: one pure rule set, read by the fan-out (app/outbox/
fanout.py) in the event's own transaction.

An alert goes to whoever must act now: the person a request is assigned to, or, when it is
held by a desk as a whole, that desk's people (its contact points, or its NCB, or the global
desk); the global desk and the NCB when it is overdue; the requester's agency when the other
side asks it for information or answers. It stops when someone acknowledges (fanout.ENDS).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from app.models.enums import EscalationTarget, RequestStatus, Role


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person, or every person of a role (in a country, or anywhere), or of an agency."""

    reason: str
    principal_id: uuid.UUID | None = None
    role: Role | None = None
    country: str | None = None
    agency_id: uuid.UUID | None = None


def holders(data: dict[str, Any], reason: str) -> list[Recipient]:
    """Whoever holds the request now, by its event data: its assignee, or else the desk of
    the step it is at (a desk assignment: the target country's contact points and NCB)."""
    assigned_to = data.get("assigned_to")
    if assigned_to:
        return [Recipient(reason, principal_id=uuid.UUID(assigned_to))]
    country = data["target_country"]
    target = data.get("target")
    if target == EscalationTarget.GLOBAL_DESK.value:
        return [Recipient(reason, role=Role.GS)]
    if target == EscalationTarget.NCB.value:
        return [Recipient(reason, role=Role.NCB, country=country)]
    return [
        Recipient(reason, role=Role.CONTACT_POINT, country=country),
        Recipient(reason, role=Role.NCB, country=country),
    ]


def _requester(data: dict[str, Any], reason: str) -> list[Recipient]:
    return [Recipient(reason, agency_id=uuid.UUID(data["requesting_agency_id"]))]


# request.updated carries the lifecycle action taken (app/requests/actions.py).
_REQUESTER_ALERTED = {"request_info": "asked_for_information", "respond": "responded"}


def recipients(event_type: str, data: dict[str, Any]) -> list[Recipient]:
    """The people an event alerts (none for most events)."""
    if event_type == "request.assigned":
        return holders(data, "assigned")
    if event_type == "request.escalated":
        return holders(data, "escalated")
    if event_type == "request.overdue":
        reason = "overdue" if not data.get("reminder") else "reminder"
        return [
            Recipient(reason, role=Role.GS),
            Recipient(reason, role=Role.NCB, country=data["target_country"]),
        ]
    if event_type == "request.updated" and data.get("action") in _REQUESTER_ALERTED:
        return _requester(data, _REQUESTER_ALERTED[data["action"]])
    # Four-eyes (app/approvals/): the officers who may approve, named by the event (never
    # its sender); then its sender, when it is refused or expires.
    if event_type == "approval.requested":
        return [Recipient("approval_needed", principal_id=uuid.UUID(p)) for p in data["approvers"]]
    if event_type in _SENDER_ALERTED:
        return [Recipient(_SENDER_ALERTED[event_type], principal_id=uuid.UUID(data["created_by"]))]
    return []


_SENDER_ALERTED = {"approval.refused": "approval_refused", "approval.expired": "approval_expired"}
# A held request decided either way: nobody needs telling it waits any more.
_APPROVAL_DECIDED = frozenset(
    {"approval.approved", "approval.refused", "approval.expired", "approval.cancelled"}
)


# The events after which nobody needs alerting about the request any more: its alerts not
# yet sent are cancelled, and the devices that showed one are told to withdraw it.
_FINAL_STATUSES = frozenset(
    {RequestStatus.CLOSED.value, RequestStatus.DECLINED.value, RequestStatus.CANCELLED.value}
)


def ends_alerts(event_type: str, data: dict[str, Any]) -> bool:
    return (
        event_type == "request.acknowledged"
        or event_type in _APPROVAL_DECIDED
        or (event_type.startswith("request.") and data.get("status") in _FINAL_STATUSES)
    )
