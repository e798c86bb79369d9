"""Deciding a held request: approve (it is then sent exactly as a submit sends a request,
through app/requests/intake.py), refuse with a reason, or cancel (its sender's agency).

Each takes the approval's row lock first (queries.find), as the expiry does: of an approval
and a cancel, two approvals, or an approval and the expiry, the first to lock wins and the
other finds it decided and gets a 409 saying what happened."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.approvals import queries, rules, views
from app.approvals.schemas import ApprovalNote, ApprovalOut, ApprovalRefusal
from app.core.canonical import sha256_hex
from app.core.errors import ConflictError
from app.core.settings import ExchangeSettings
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, Approval, Principal
from app.models.enums import ApprovalStatus
from app.requests import intake
from app.requests.schemas import RequestCreate


async def _locked(
    session: AsyncSession, actor: Actor, approval_id: uuid.UUID
) -> tuple[Approval, datetime]:
    approval = await queries.find(session, actor, approval_id, for_update=True)
    now = await session.scalar(select(func.now()))
    assert now is not None
    return approval, now


def _require_in_time(approval: Approval, now: datetime) -> None:
    """Past its expiry it is no longer the approvers' to decide, even if the workers have
    not expired it yet (they will, as soon as this transaction lets go of the row)."""
    if approval.expires_at <= now:
        raise ConflictError(
            f"cannot decide: its approval time ran out at {approval.expires_at.isoformat()}"
        )


def _decide(
    approval: Approval,
    actor: Actor | None,
    status: ApprovalStatus,
    now: datetime,
    reason: str | None,
) -> None:
    approval.status = status
    approval.decided_at = now
    approval.decided_by = actor.principal_id if actor else None
    approval.decided_role = actor.role if actor else None
    approval.reason = reason
    # Decided either way, its content is not kept here: it lives in the request, or nowhere.
    approval.draft = None
    approval.version += 1


def _reason_details(reason: str | None) -> dict[str, str]:
    """An audit entry holds a reason's hash, not its words (it may name a case)."""
    return {"reason_hash": sha256_hex(reason)} if reason else {}


async def _requester(session: AsyncSession, approval: Approval) -> Actor:
    """Its sender, on whose behalf the approved request is sent: no token of theirs is in
    use, so ``token_id`` names the approval (as an ack link's names its alert)."""
    found = (
        await session.execute(
            select(Principal, Agency)
            .join(Agency, Agency.id == Principal.agency_id)
            .where(Principal.id == approval.created_by)
        )
    ).one()
    principal, agency = found
    if principal.disabled_at is not None:
        raise ConflictError("cannot approve: its sender has been disabled since; refuse it")
    return Actor(
        principal_id=principal.id,
        token_id=approval.id,
        agency_id=agency.id,
        country=agency.country_code,
        role=principal.role,
        name=principal.name,
        agency_kind=agency.kind,
    )


async def approve(
    session: AsyncSession,
    actor: Actor,
    approval_id: uuid.UUID,
    note: ApprovalNote,
    *,
    exchange: ExchangeSettings,
) -> ApprovalOut:
    approval, now = await _locked(session, actor, approval_id)
    rules.require_decider(actor, approval)
    rules.require_awaiting(approval, "approve it")
    _require_in_time(approval, now)
    assert approval.draft is not None  # kept while it waits
    draft = RequestCreate.model_validate(approval.draft)
    requester = await _requester(session, approval)
    _decide(approval, actor, ApprovalStatus.APPROVED, now, note.reason)
    await session.flush()
    await views.record(session, actor, "approval.approved", approval, _reason_details(note.reason))
    # Before the request's own events: this one ends the approvers' alerts (same id), which
    # must not end the alerts the request's arrival then sends to the target.
    await views.announce(session, "approval.approved", approval)
    await intake.send_approved(
        session,
        requester,
        draft,
        intake.Approved(request_id=approval.id, role=actor.role),
        exchange=exchange,
    )
    return views.view(approval, actor)


async def refuse(
    session: AsyncSession, actor: Actor, approval_id: uuid.UUID, refusal: ApprovalRefusal
) -> ApprovalOut:
    approval, now = await _locked(session, actor, approval_id)
    rules.require_decider(actor, approval)
    rules.require_awaiting(approval, "refuse it")
    _require_in_time(approval, now)
    _decide(approval, actor, ApprovalStatus.REFUSED, now, refusal.reason)
    await session.flush()
    await views.record(
        session, actor, "approval.refused", approval, _reason_details(refusal.reason)
    )
    await views.announce(session, "approval.refused", approval)
    return views.view(approval, actor)


async def cancel(
    session: AsyncSession, actor: Actor, approval_id: uuid.UUID, note: ApprovalNote
) -> ApprovalOut:
    """Its sender's agency withdraws it before anyone decided (as it cancels a request)."""
    approval, now = await _locked(session, actor, approval_id)
    policy.require(actor, policy.Action.ACT_AS_REQUESTER, approval)
    rules.require_awaiting(approval, "cancel it")
    _decide(approval, actor, ApprovalStatus.CANCELLED, now, note.reason)
    await session.flush()
    await views.record(session, actor, "approval.cancelled", approval, _reason_details(note.reason))
    await views.announce(session, "approval.cancelled", approval)
    return views.view(approval, actor)
