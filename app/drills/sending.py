"""What a due drill becomes: a request to its desk, written, routed, announced and alerted by
the same code as a submission (app/requests/intake.py), whose content says plainly that it is
a drill and asks for nothing but the acknowledgement."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app import audit, retention
from app.core.canonical import sha256_hex
from app.core.settings import ExchangeSettings
from app.models import CooperationRequest, Drill
from app.models.enums import Assignment, HandlingCode, RequestStatus, RequestType
from app.requests import access, intake
from app.rosters import routing

# Metadata every list shows: a desk sees DRILL before anything else, on every screen.
HEADLINE = "DRILL: readiness test of the 24/7 network. Acknowledge it; nothing else to do"
# The content: no identifiers, no evidence, nothing a desk could act on by mistake. Technical
# assistance (Budapest Art. 35) is the 24/7 network's own article; the drill follows the
# desk's escalation policy for it at the priority scheduled.
CONTENT = {
    "subject": "DRILL",
    "details": (
        "DRILL. This is a readiness drill of the 24/7 network, not a real request. Acknowledge "
        "it as you would a real one; do not act on it otherwise. The time you take to "
        "acknowledge is recorded as this desk's drill result."
    ),
    "identifiers": [],
    "legal_basis": "DRILL: readiness drill of the 24/7 network, no legal request",
}
REQUEST_TYPE = RequestType.TECHNICAL_ASSISTANCE


async def send(
    session: AsyncSession, drill: Drill, *, exchange: ExchangeSettings
) -> CooperationRequest:
    """Send the drill (locked by the caller) as a request to its desk's on-duty primary (or
    the whole desk), from the network: it counts as its own country's, so only that country
    and the global desk see it. Marks the drill sent; the caller commits."""
    context = await routing.load_context(
        session, agency_id=drill.scheduled_by_agency_id, target_country=drill.target_country
    )
    # The country is a foreign key of the drill: it has a roster and a policy.
    assert context.roster is not None
    assert context.escalation is not None
    assignee = routing.on_duty_primary(context.roster, context.now)
    values = {
        "id": uuid.uuid4(),
        "type": REQUEST_TYPE,
        "priority": drill.priority,
        "status": RequestStatus.SUBMITTED,
        "requesting_agency_id": drill.scheduled_by_agency_id,
        "requesting_country": drill.target_country,
        "target_country": drill.target_country,
        "created_by": drill.scheduled_by,
        "headline": HEADLINE,
        **CONTENT,
        "handling_code": HandlingCode.CLEAR,
        "onward_use": [],
        "handling_note": None,
        "content_hash": sha256_hex(CONTENT),
        "assigned_to": assignee,
        "assignment": Assignment.ON_DUTY if assignee else Assignment.DESK,
        "retention_days": retention.retention_days(REQUEST_TYPE, exchange.retention_days),
        "approved_at": None,  # a drill needs no second officer
        "approved_by_role": None,
        "drill_id": drill.id,
    }
    request, _ = await intake.write(session, values, context.escalation, exchange=exchange)
    drill.fired_at = context.now
    # The service sends it, on the scheduler's behalf: no principal acted now.
    await audit.record(
        session,
        None,
        "request.submitted",
        object_type=access.OBJECT_TYPE,
        object_id=str(request.id),
        countries=access.countries_of(request),
        content_hash=request.content_hash,
        details={
            "target_country": request.target_country,
            "type": request.type.value,
            "assigned_to": str(assignee) if assignee else None,
            "drill_id": str(drill.id),
        },
    )
    await intake.announce(session, request)
    return request
