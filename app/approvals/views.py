"""What shows a held request (its view, what its events carry) and what writes its audit
entries and events: the same for holding, deciding, cancelling and expiring it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.approvals import rules
from app.approvals.schemas import ApprovalOut
from app.directory.person_refs import PersonRef
from app.identity.auth import Actor
from app.models import Agency, Approval
from app.models.enums import AgencyKind, ApprovalStatus
from app.realtime import audience, event_log
from app.requests.schemas import RequestContentOut, RequestCreate
from app.requests.views import content_of

OBJECT_TYPE = "approval"


def view(
    approval: Approval,
    actor: Actor,
    *,
    with_content: bool = False,
    people: dict[uuid.UUID, PersonRef] | None = None,
) -> ApprovalOut:
    """``with_content``: the caller has been allowed to read it (queries.get checks and audits
    that); the content shows only while the request waits, since it is not kept after."""
    content = (
        RequestContentOut.model_validate(content_of(RequestCreate.model_validate(approval.draft)))
        if with_content and approval.draft is not None
        else None
    )
    return ApprovalOut.model_validate(
        {
            **{
                name: getattr(approval, name)
                for name in ApprovalOut.model_fields
                if name not in ("request_id", "may_decide", "content", "sender", "decider")
            },
            "sender": (people or {}).get(approval.created_by),
            "decider": (people or {}).get(approval.decided_by) if approval.decided_by else None,
            "request_id": approval.id if approval.status is ApprovalStatus.APPROVED else None,
            "may_decide": rules.may_decide(actor, approval),
            "content": content,
        }
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def event_data(approval: Approval) -> dict[str, Any]:
    """Metadata, never content nor the decider's reason (the requester reads that with an
    authorized GET)."""
    return {
        "approval_id": str(approval.id),
        # The id its request takes once approved: what alerts link to and are tagged by.
        "request_id": str(approval.id),
        "status": approval.status.value,
        "required_by": approval.required_by.value,
        "type": approval.type.value,
        "priority": approval.priority.value,
        "requesting_country": approval.requesting_country,
        "requesting_agency_id": str(approval.requesting_agency_id),
        "target_country": approval.target_country,
        "headline": approval.headline,
        "handling_code": approval.handling_code.value,
        "created_by": str(approval.created_by),
        "created_at": _iso(approval.created_at),
        "expires_at": _iso(approval.expires_at),
        "decided_at": _iso(approval.decided_at),
        "decided_role": approval.decided_role.value if approval.decided_role else None,
        "version": approval.version,
    }


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    approval: Approval,
    details: dict[str, Any] | None = None,
) -> None:
    """Its audit entry, in the caller's transaction: it concerns the sending country only
    (the target hears of it once it is sent, as a request)."""
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(approval.id),
        countries=(approval.requesting_country,),
        content_hash=approval.content_hash,
        details={
            "status": approval.status.value,
            "target_country": approval.target_country,
            "type": approval.type.value,
        }
        | (details or {}),
    )


async def announce(
    session: AsyncSession, event_type: str, approval: Approval, **extra: Any
) -> None:
    """Its event, on its sending agency's channel and its country's NCB's (not on a desk: the
    desks, and the global desk that follows them all, have nothing to do with it); the alert
    rules (app/alerts/rules.py) read ``approvers`` and ``created_by`` from it to tell the
    approvers, or the requester."""
    ncbs = await session.scalars(
        select(Agency.id).where(
            Agency.country_code == approval.requesting_country, Agency.kind == AgencyKind.NCB
        )
    )
    await event_log.publish(
        session,
        event_type,
        channels=[
            audience.agency_channel(approval.requesting_agency_id),
            *(audience.agency_channel(ncb) for ncb in ncbs),
        ],
        request_id=approval.id,
        data=event_data(approval) | extra,
    )
