"""Holding a submission for approval: called by submit (app/requests/intake.py) for an
emergency disclosure, after the sender's agreements let it be sent."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.approvals import rules, views
from app.approvals.schemas import ApprovalOut
from app.core.canonical import sha256_hex
from app.core.settings import ExchangeSettings
from app.deadlines import rows as deadline_rows
from app.directory import agreements
from app.identity.auth import Actor
from app.models import Approval
from app.models.enums import ApprovalStatus
from app.requests.schemas import RequestCreate
from app.requests.views import content_of
from app.rosters.routing import RoutingContext


async def hold_if_required(
    session: AsyncSession,
    actor: Actor,
    draft: RequestCreate,
    context: RoutingContext,
    *,
    exchange: ExchangeSettings,
) -> ApprovalOut | None:
    """Hold the submission when its country's policy, or an agreement that covers it, asks
    for a second officer's approval; None: it needs none, and is sent at once."""
    covering = agreements.covering(
        context.agreements,
        request_type=draft.type,
        target_country=draft.target_country,
        priority=draft.priority,
        now=context.now,
    )
    required = await rules.requirement(session, country=actor.country, covering=covering)
    if required is None:
        return None
    approval = Approval(
        id=uuid.uuid4(),
        status=ApprovalStatus.AWAITING,
        required_by=required,
        type=draft.type,
        priority=draft.priority,
        requesting_agency_id=actor.agency_id,
        requesting_country=actor.country,
        target_country=draft.target_country,
        created_by=actor.principal_id,
        headline=draft.headline,
        handling_code=draft.handling_code,
        draft=draft.model_dump(mode="json"),
        content_hash=sha256_hex(content_of(draft)),
        created_at=context.now,
        expires_at=context.now + exchange.four_eyes_expiry,
        version=1,
    )
    session.add(approval)
    await session.flush()
    await views.record(
        session,
        actor,
        "approval.requested",
        approval,
        {"required_by": required.value, "expires_at": approval.expires_at.isoformat()},
    )
    approvers = await rules.approvers(session, approval)
    await views.announce(
        session, "approval.requested", approval, approvers=[str(p) for p in approvers]
    )
    # Its expiry is a deadline like any other: the workers are woken if it is near.
    deadline_rows.wake_if_near(
        session, exchange.four_eyes_expiry, poll_interval=exchange.deadline_poll_interval
    )
    return views.view(approval, actor)
