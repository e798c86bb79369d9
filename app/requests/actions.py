"""Actions on a request (app/requests/lifecycle.py says which, by whom, to what, and what
each does besides), and the history they leave.

Every change of a request's status goes through :func:`_take`, under the request's row lock:
the state it decides on is the state it writes over, so two concurrent actions are ordered
and the second one sees what the first did (a 409 if it no longer applies). One action writes
the request, one history row, one audit entry and one event, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import outcomes
from app.core.errors import ConflictError, ForbiddenError, InvalidInputError
from app.core.pagination import PositionCursor
from app.core.preconditions import etag, require_current
from app.deadlines import rows as deadline_rows
from app.directory import person_refs
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest, RequestTransition, table_of
from app.models.enums import RequestAction, RequestStatus, Side
from app.realtime import event_log
from app.requests import access, lifecycle, views
from app.requests.schemas import AckOut, ActionOut, HistoryPage, ReceiptOut, TransitionOut

_SIDE_NAMES = {
    Side.TARGET: "the target side (the target desk's contact points, its NCB, the global desk)",
    Side.REQUESTER: "the requester side (the sending agency)",
}
# Each step's clock effect (lifecycle.EFFECTS), as the deadline rows carry it out.
_CLOCK = {
    lifecycle.Clock.PAUSE: deadline_rows.pause_response_clock,
    lifecycle.Clock.RESUME: deadline_rows.resume_response_clock,
}

_transitions = table_of(RequestTransition)


@dataclass(frozen=True, slots=True)
class _Taken:
    from_status: RequestStatus
    at: datetime


# --- who acts -------------------------------------------------------------------------------


def _acting_side(actor: Actor, request: CooperationRequest, action: RequestAction) -> Side:
    """The side the actor takes this action for; 403 when it is the other side's action or
    the actor acts for neither side."""
    taken_by = lifecycle.TAKEN_BY[action]
    side = access.side_of(actor, request)
    if side is not None and side is not taken_by:
        raise ForbiddenError(
            f"{action.value} is taken by {_SIDE_NAMES[taken_by]}; you act for "
            f"{_SIDE_NAMES[side]} of this request",
            side=side.value,
        )
    # Neither side: the policy's own words say who may.
    policy.require(actor, lifecycle.PERMISSION[action], access.owner_of(request))
    if side is None:
        raise ForbiddenError(f"only {_SIDE_NAMES[taken_by]} may {action.value} this request")
    return side


def _refusal(
    message: str, request: CooperationRequest, side: Side, now: datetime, reopen_window: timedelta
) -> ConflictError:
    allowed = lifecycle.allowed_now(request, side, now, reopen_window)
    may = (
        f"as {_SIDE_NAMES[side]} you may now: {', '.join(a.value for a in allowed)}"
        if allowed
        else f"{_SIDE_NAMES[side]} may do nothing more to it now"
    )
    return ConflictError(
        f"{message}; {may}",
        current_status=request.status.value,
        allowed_actions=[a.value for a in allowed],
        version=request.version,
    )


async def _database_now(session: AsyncSession) -> datetime:
    # The clock once the request's row lock is held, not the transaction's start: an action
    # that waited on the lock (behind an escalation, say) happened after what held it.
    now: datetime = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    return now


# --- the one way a request changes state -----------------------------------------------------


async def _take(
    session: AsyncSession,
    actor: Actor,
    request: CooperationRequest,
    action: RequestAction,
    side: Side,
    *,
    reason: str | None,
    reopen_window: timedelta,
) -> _Taken:
    """Check the action against the table and the request, then write the change, its
    history row, its audit entry and its event. ``request`` is row-locked by the caller."""
    now = await _database_now(session)
    rule = lifecycle.step(request.status, action)
    if rule is None:
        raise _refusal(
            f"a request that is {request.status.value} cannot take {action.value}",
            request,
            side,
            now,
            reopen_window,
        )
    if action in lifecycle.REASON_REQUIRED and reason is None:
        raise InvalidInputError(
            f"required to {action.value}: say why (it is kept in the request's history)",
            field="reason",
        )
    refused = lifecycle.refusal(request, action, now, reopen_window)
    if refused is not None:
        raise _refusal(refused, request, side, now, reopen_window)

    from_status = request.status
    request.status = rule.to
    request.version += 1
    request.updated_at = now
    request.closed_at = now if lifecycle.is_final(rule.to) else None
    effects = lifecycle.EFFECTS[action]
    if effects.stamp is not None:
        effects.stamp.write(request, now, actor.principal_id)
    # The legal response clock does not run while the request waits on its requester.
    if effects.clock is not None:
        await _CLOCK[effects.clock](session, request, now)
    await session.flush()
    # Someone acted, in this transaction and under the row lock the worker takes to fire: an
    # ack stops the escalation, a response stops the response clock, a final state both.
    cancels = lifecycle.cancels(action, rule.to)
    if cancels:
        await deadline_rows.cancel_pending(session, request.id, now, cancels)
    # Its figures for analytics come to be (or go, on a reopen) with the final state itself.
    if lifecycle.is_final(rule.to) or lifecycle.is_final(from_status):
        await outcomes.refresh(session, request.id)

    await session.execute(
        insert(_transitions).values(
            request_id=request.id,
            action=action,
            from_status=from_status,
            to_status=rule.to,
            side=side,
            actor_principal_id=actor.principal_id,
            actor_agency_id=actor.agency_id,
            reason=reason,
            at=now,
        )
    )
    # The reason is content: the trail says only that there was one.
    await access.audit_request(
        session,
        actor,
        effects.audit,
        request,
        {"from": from_status.value, "to": rule.to.value, "reason_given": reason is not None},
    )
    await event_log.publish(
        session,
        effects.event,
        channels=access.channels_of(request),
        request_id=request.id,
        data={
            **views.event_data(request),
            "action": action.value,
            "side": side.value,
        },
    )
    return _Taken(from_status=from_status, at=now)


# --- use cases ------------------------------------------------------------------------------


async def perform(
    session: AsyncSession,
    actor: Actor,
    request_id: uuid.UUID,
    action: RequestAction,
    *,
    reason: str | None,
    if_match: str | None,
    reopen_window: timedelta,
) -> ActionOut:
    """Take an action on a request, as the side the actor acts for."""
    request = await access.find_visible(session, actor, request_id, lock=True)
    side = _acting_side(actor, request, action)
    require_current(if_match, etag(request.version))
    taken = await _take(
        session, actor, request, action, side, reason=reason, reopen_window=reopen_window
    )
    return ActionOut(
        request_id=request.id,
        action=action,
        from_status=taken.from_status,
        status=request.status,
        version=request.version,
        at=taken.at,
        side=side,
        allowed_actions=lifecycle.allowed_now(request, side, taken.at, reopen_window),
    )


async def acknowledge(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, *, reopen_window: timedelta
) -> AckOut:
    """A human at the target desk has seen the request. Idempotent, unlike the action: a
    second ack (by anyone of the desk) changes nothing and says so, whatever happened since."""
    request = await access.find_visible(session, actor, request_id, lock=True)
    side = _acting_side(actor, request, RequestAction.ACKNOWLEDGE)
    already = request.acknowledged_at is not None and request.acknowledged_by is not None
    if not already:
        await _take(
            session,
            actor,
            request,
            RequestAction.ACKNOWLEDGE,
            side,
            reason=None,
            reopen_window=reopen_window,
        )
    assert request.acknowledged_at is not None
    assert request.acknowledged_by is not None
    return AckOut(
        request_id=request.id,
        status=request.status,
        acknowledged_at=request.acknowledged_at,
        acknowledged_by=request.acknowledged_by,
        already_acknowledged=already,
    )


async def receive(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, *, reopen_window: timedelta
) -> ReceiptOut:
    """A dashboard of the target side shows the request to a person: the first receipt moves
    it from submitted to delivered. Idempotent, like :func:`acknowledge`: every screen of the
    desk may confirm the same request, and only the first changes anything. A request already
    past submitted (acknowledged before any screen confirmed it, declined, cancelled) is not
    delivered after the fact: delivered_at stays what it was (null if it never was delivered),
    so it is set exactly when the request took the receive step, and never after the ack."""
    request = await access.find_visible(session, actor, request_id, lock=True)
    side = _acting_side(actor, request, RequestAction.RECEIVE)
    already = request.status is not RequestStatus.SUBMITTED
    if not already:
        await _take(
            session,
            actor,
            request,
            RequestAction.RECEIVE,
            side,
            reason=None,
            reopen_window=reopen_window,
        )
    return ReceiptOut(
        request_id=request.id,
        status=request.status,
        delivered_at=request.delivered_at,
        delivered_by=request.delivered_by,
        already_received=already,
    )


async def history(
    session: AsyncSession,
    actor: Actor,
    request_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    after_id: int | None = None,
) -> HistoryPage:
    """Every step of the request's life, oldest first. Rows of one request are written under
    its row lock, so their ids ascend in commit order and a page never skips a late one."""
    request = await access.find_visible(session, actor, request_id)
    t = RequestTransition
    query = select(t).where(t.request_id == request.id)
    if cursor is not None and after_id is not None:
        raise InvalidInputError("give cursor or after_id, not both", field="after_id")
    if cursor is not None:
        query = query.where(t.id > PositionCursor.decode(cursor, request.id))
    elif after_id is not None:
        query = query.where(t.id > after_id)
    rows = list(await session.scalars(query.order_by(t.id).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    shows_reasons = access.reads_content(actor, request)
    shown = sum(1 for row in page if row.reason is not None) if shows_reasons else 0
    if shown:
        await access.audit_request(
            session, actor, "request.history_read", request, {"reasons_shown": shown}
        )
    actors = await person_refs.describe(session, actor, {row.actor_principal_id for row in page})
    items = [
        TransitionOut(
            id=row.id,
            action=row.action,
            from_status=row.from_status,
            to_status=row.to_status,
            side=row.side,
            actor_principal_id=row.actor_principal_id,
            actor_agency_id=row.actor_agency_id,
            actor=actors.get(row.actor_principal_id) if row.actor_principal_id else None,
            at=row.at,
            has_reason=row.reason is not None,
            reason=row.reason if shows_reasons else None,
        )
        for row in page
    ]
    next_cursor = PositionCursor(request.id, page[-1].id).encode() if more else None
    return HistoryPage(items=items, next_cursor=next_cursor)
