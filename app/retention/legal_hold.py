"""The legal hold: while it is set, a request's content outlives its retention.

Who may set and lift it is app/identity/policy.py's HOLD_REQUEST: the NCB of the sending country and
the global desk. The reason is shown with the request but never copied into the audit trail
or a push: it may name the case, which is content.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ConflictError
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest
from app.realtime import event_log
from app.requests import access, views
from app.requests.schemas import LegalHoldOut
from app.retention.schemas import LegalHoldState


def _state(request: CooperationRequest, *, changed: bool) -> LegalHoldState:
    hold = (
        LegalHoldOut(
            set_at=request.legal_hold_at,
            set_by=request.legal_hold_by,
            reason=request.legal_hold_reason,
        )
        if request.legal_hold_at is not None and request.legal_hold_by is not None
        else None
    )
    return LegalHoldState(
        request_id=request.id, legal_hold=hold, version=request.version, changed=changed
    )


async def _held_request(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID
) -> CooperationRequest:
    """The request, row-locked (a purge claiming it skips it, or is waited for), if the
    actor sees it (else 404) and may hold it (else 403)."""
    request = await access.find_visible(session, actor, request_id, lock=True)
    policy.require(actor, policy.Action.HOLD_REQUEST, access.owner_of(request))
    return request


async def _changed(
    session: AsyncSession,
    actor: Actor,
    request: CooperationRequest,
    action: str,
    details: dict[str, Any],
) -> None:
    request.version += 1
    request.updated_at = (await session.execute(select(func.now()))).scalar_one()
    await session.flush()
    await access.audit_request(session, actor, action, request, details)
    await event_log.publish(
        session,
        "request.updated",
        channels=access.channels_of(request),
        request_id=request.id,
        data={**views.event_data(request), "legal_hold": request.legal_hold_at is not None},
    )


async def set_hold(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, reason: str
) -> LegalHoldState:
    """Keep the request's content past its retention until the hold is lifted. Setting a
    hold that is already set changes nothing (the first reason stays) and says so."""
    request = await _held_request(session, actor, request_id)
    if request.legal_hold_at is not None:
        return _state(request, changed=False)
    if request.purged_at is not None:
        raise ConflictError(
            f"request {request.id} was purged at the end of its retention: there is no "
            "content left to hold",
            purged_at=request.purged_at.isoformat(),
        )
    request.legal_hold_at = (await session.execute(select(func.now()))).scalar_one()
    request.legal_hold_by = actor.principal_id
    request.legal_hold_reason = reason
    await _changed(session, actor, request, "request.legal_hold_set", {"has_reason": bool(reason)})
    return _state(request, changed=True)


async def lift_hold(session: AsyncSession, actor: Actor, request_id: uuid.UUID) -> LegalHoldState:
    """Let the retention run again: a request already past it is purged by the next round.
    Lifting a hold that is not set changes nothing and says so."""
    request = await _held_request(session, actor, request_id)
    if request.legal_hold_at is None:
        return _state(request, changed=False)
    details = {
        "held_since": request.legal_hold_at.isoformat(),
        "held_by": str(request.legal_hold_by),
    }
    request.legal_hold_at = request.legal_hold_by = request.legal_hold_reason = None
    await _changed(session, actor, request, "request.legal_hold_lifted", details)
    return _state(request, changed=True)
