"""/v1/approvals: four-eyes for emergency disclosure (docs/four-eyes.md). Thin routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from app.api import problems
from app.api.deps import CurrentActor, Session, SettingsOf
from app.approvals import commands, queries
from app.approvals.schemas import ApprovalNote, ApprovalOut, ApprovalPage, ApprovalRefusal
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.models.enums import ApprovalStatus

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])

_DECIDED = problems.responses(403, 404, 409)


@router.get("", response_model=ApprovalPage)
async def list_approvals(
    session: Session,
    actor: CurrentActor,
    status: ApprovalStatus | None = None,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> ApprovalPage:
    """Emergency disclosures held for approval, newest first, metadata only: a unit officer
    sees its agency's, an NCB those sent from its country. `may_decide` says which you may
    approve or refuse (never your own)."""
    return await queries.list_approvals(session, actor, status=status, cursor=cursor, limit=limit)


@router.get("/{approval_id}", response_model=ApprovalOut, responses=problems.responses(404))
async def get_approval(
    approval_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ApprovalOut:
    """One held request, with its content while it waits (an audited read)."""
    return await queries.get(session, actor, approval_id)


@router.post("/{approval_id}/approve", response_model=ApprovalOut, responses=_DECIDED)
async def approve(
    approval_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    settings: SettingsOf,
    body: Annotated[ApprovalNote | None, Body()] = None,
) -> ApprovalOut:
    """Approve it, as a second officer of its sending agency or its country's NCB: it is sent
    at once through the normal routing as the request `request_id`, which its target sees was
    approved and by which role. Its sender may not; whoever comes second (another approver,
    a cancel, the expiry) gets 409."""
    return await commands.approve(
        session, actor, approval_id, body or ApprovalNote(), exchange=settings.exchange
    )


@router.post("/{approval_id}/refuse", response_model=ApprovalOut, responses=_DECIDED)
async def refuse(
    approval_id: uuid.UUID, body: ApprovalRefusal, session: Session, actor: CurrentActor
) -> ApprovalOut:
    """Refuse it, with a reason its sender reads: it ends, never sent."""
    return await commands.refuse(session, actor, approval_id, body)


@router.post("/{approval_id}/cancel", response_model=ApprovalOut, responses=_DECIDED)
async def cancel(
    approval_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    body: Annotated[ApprovalNote | None, Body()] = None,
) -> ApprovalOut:
    """Withdraw it before anyone decided (its sending agency): it ends, never sent."""
    return await commands.cancel(session, actor, approval_id, body or ApprovalNote())
