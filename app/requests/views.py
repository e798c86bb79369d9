"""What shows a request: its fields as the actor may see them (content only for who may read
it), what a push carries (event_data), one request with its escalations and the actions
allowed (get) and the unconfirmed requests a socket's welcome lists. The filtered list is
app/requests/search.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity import policy
from app.identity.auth import Actor
from app.models import AuditEntry, CooperationRequest
from app.models.enums import RequestStatus
from app.requests.access import (
    OBJECT_TYPE,
    owner_of,
    reads_content,
    visible_to,
)
from app.requests.schemas import (
    EscalationOut,
    Identifier,
    LegalHoldOut,
    RequestContentOut,
    RequestCreate,
    RequestOut,
    UnconfirmedRequest,
)

# --- views ----------------------------------------------------------------------------------


def content_of(request: CooperationRequest | RequestCreate) -> dict[str, Any]:
    identifiers = [
        i.model_dump(mode="json") if isinstance(i, Identifier) else i
        for i in request.identifiers or []
    ]
    return {
        "subject": request.subject,
        "details": request.details,
        "identifiers": identifiers,
        "legal_basis": request.legal_basis,
    }


def fields_of(
    request: CooperationRequest, actor: Actor, *, with_content: bool = True
) -> dict[str, Any]:
    """The request as ``actor`` sees it; ``with_content=False`` leaves out everything a
    content read would show (the content, a legal hold's reason unless the actor may hold)."""
    content = (
        RequestContentOut.model_validate(content_of(request))
        if with_content and reads_content(actor, request)
        else None
    )
    hold = (
        LegalHoldOut(
            set_at=request.legal_hold_at,
            set_by=request.legal_hold_by,
            # A hold's reason may name a case: for who reads the content or may hold it.
            reason=request.legal_hold_reason
            if content is not None
            or policy.permits(actor, policy.Action.HOLD_REQUEST, owner_of(request))
            else None,
        )
        if request.legal_hold_at is not None and request.legal_hold_by is not None
        else None
    )
    computed = {"content", "legal_hold", "retain_until"}
    return {
        **{c: getattr(request, c) for c in RequestOut.model_fields if c not in computed},
        "content": content,
        "legal_hold": hold,
        "retain_until": (
            request.closed_at + timedelta(days=request.retention_days)
            if request.closed_at is not None
            else None
        ),
    }


def view(request: CooperationRequest, actor: Actor, *, with_content: bool = True) -> RequestOut:
    return RequestOut.model_validate(fields_of(request, actor, with_content=with_content))


def event_data(request: CooperationRequest) -> dict[str, Any]:
    """What a push carries: metadata, never content. Content is read with an audited GET."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "request_id": str(request.id),
        "type": request.type.value,
        "priority": request.priority.value,
        "status": request.status.value,
        "requesting_country": request.requesting_country,
        "requesting_agency_id": str(request.requesting_agency_id),
        "target_country": request.target_country,
        # Metadata its sender wrote for lists like the queue's rows (never content).
        "headline": request.headline,
        "handling_code": request.handling_code.value,
        "created_at": iso(request.created_at),
        "delivered_at": iso(request.delivered_at),
        "delivered_by": str(request.delivered_by) if request.delivered_by else None,
        "acknowledged_at": iso(request.acknowledged_at),
        "acknowledged_by": str(request.acknowledged_by) if request.acknowledged_by else None,
        "assigned_to": str(request.assigned_to) if request.assigned_to else None,
        "assignment": request.assignment.value,
        "assigned_at": iso(request.assigned_at),
        "version": request.version,
        "closed_at": iso(request.closed_at),
        "escalation_step": request.escalation_step,
        "escalated_to": request.escalated_to.value if request.escalated_to else None,
        "ack_due_at": iso(request.ack_due_at),
        "overdue_at": iso(request.overdue_at),
        "response_due_at": iso(request.response_due_at),
        "response_paused_at": iso(request.response_paused_at),
        "response_breached_at": iso(request.response_breached_at),
        # A readiness drill's (app/drills/): every screen and alert marks it as a drill.
        "drill_id": str(request.drill_id) if request.drill_id else None,
        # Four-eyes (app/approvals/): only on a request a second officer approved, so the
        # target sees it was approved, and in which role, before it reads anything.
        **(
            {"approved_at": iso(request.approved_at), "approved_by_role": request.approved_by_role}
            if request.approved_at is not None
            else {}
        ),
    }


# --- use cases ------------------------------------------------------------------------------


async def escalations(session: AsyncSession, request_id: uuid.UUID) -> list[EscalationOut]:
    """The request's moves along its escalation policy, from the audit trail the deadline
    worker writes with each one (app/deadlines/): one indexed query, the same facts
    as the trail."""
    a = AuditEntry
    rows = await session.execute(
        select(a.occurred_at, a.details)
        .where(
            a.object_type == OBJECT_TYPE,
            a.object_id == str(request_id),
            a.action == "request.escalated",
        )
        .order_by(a.id)
    )
    return [
        EscalationOut(
            step=details["to_step"],
            target=details["target"],
            at=occurred_at,
            assigned_to=details.get("assigned_to"),
        )
        for occurred_at, details in rows
    ]


# A socket's welcome lists at most this many unconfirmed requests, the newest: a desk with
# more has a backlog no screen would show anyway, and the full list is GET /v1/requests.
UNCONFIRMED_LIMIT = 100


async def unconfirmed(
    session: AsyncSession,
    actor: Actor,
    *,
    desks: list[str],
    own: bool,
    limit: int = UNCONFIRMED_LIMIT,
) -> list[UnconfirmedRequest]:
    """Requests still submitted that no screen has confirmed (no receipt, no ack): those sent
    to these desks (countries), and with ``own`` those assigned to the actor; newest first.
    What a dashboard that was offline when they were pushed has not seen."""
    if not desks and not own:
        return []
    r = CooperationRequest
    held: list[ColumnElement[bool]] = []
    if desks:
        held.append(r.target_country.in_(desks))
    if own:
        held.append(r.assigned_to == actor.principal_id)
    rows = await session.execute(
        select(
            r.id,
            r.type,
            r.priority,
            r.requesting_country,
            r.target_country,
            r.headline,
            r.assigned_to,
            r.assigned_at,
            r.drill_id,
        )
        .where(
            r.status == RequestStatus.SUBMITTED,
            r.delivered_at.is_(None),
            or_(*held),
            visible_to(actor),
        )
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(limit)
    )
    return [
        UnconfirmedRequest(
            request_id=row.id,
            type=row.type,
            priority=row.priority,
            requesting_country=row.requesting_country,
            target_country=row.target_country,
            headline=row.headline,
            assigned_to=row.assigned_to,
            assigned_at=row.assigned_at,
            drill_id=row.drill_id,
        )
        for row in rows
    ]
