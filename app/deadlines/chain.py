"""A request's escalation chain (GET /v1/requests/{id}/escalation-chain): every step of its
target's escalation policy as it applies to it, whom each step reached or would reach, when it
fired or will fire, which one holds it now, and who was alerted at each.

Metadata only: it reads no content and writes no audit entry. Each part is one query whatever
the number of steps or alerts: the request, its policy, its moves (the audit entries that
submit and the deadline worker wrote with each), its pending deadline, the roster of the
window the upcoming steps fall in, the people named, the alerts.

The policy is the one in force now, as the worker that fires the next step will read it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import timeline
from app.alerts.schemas import AlertOut
from app.deadlines.chain_schemas import ChainStep, EscalationChainOut, StepAlert, StepState
from app.deadlines.escalation_policies import effective_documents
from app.deadlines.escalation_policy import EscalationStep
from app.directory import person_refs
from app.directory.person_refs import PersonRef
from app.identity.auth import Actor
from app.models import Agency, AuditEntry, CooperationRequest, DeadlineKind, RequestDeadline
from app.models.enums import AgencyKind, EscalationTarget, Layer
from app.requests import access, lifecycle
from app.rosters import routing, store

# Enough for a night of repeats at every step; the chain shows who, not each ring.
ALERTS_LIMIT = 1000
_INSTANT_WIDTH = timedelta(microseconds=1)
_LAYERS = {
    EscalationTarget.ON_DUTY_PRIMARY: Layer.PRIMARY,
    EscalationTarget.ON_DUTY_BACKUP: Layer.BACKUP,
}


async def _moves(
    session: AsyncSession, request_id: uuid.UUID
) -> dict[int, tuple[datetime, uuid.UUID | None]]:
    """When each step reached the request and whom it handed it to: the submission (step 0)
    and each escalation, as the trail recorded them; a step reached twice, the last time."""
    a = AuditEntry
    rows = await session.execute(
        select(a.action, a.occurred_at, a.details)
        .where(
            a.object_type == access.OBJECT_TYPE,
            a.object_id == str(request_id),
            a.action.in_(("request.submitted", "request.escalated")),
        )
        .order_by(a.id)
    )
    moves: dict[int, tuple[datetime, uuid.UUID | None]] = {}
    for action, at, details in rows:
        step = 0 if action == "request.submitted" else int(details["to_step"])
        assigned = (details or {}).get("assigned_to")
        moves[step] = (at, uuid.UUID(assigned) if assigned else None)
    return moves


async def _pending_ack(session: AsyncSession, request_id: uuid.UUID) -> datetime | None:
    """When the worker fires the request's next escalation step or reminder, if it will."""
    d = RequestDeadline
    due: datetime | None = await session.scalar(
        select(func.min(d.due_at)).where(
            d.request_id == request_id,
            d.kind.in_((DeadlineKind.ACK, DeadlineKind.REMINDER)),
            d.fired_at.is_(None),
            d.cancelled_at.is_(None),
        )
    )
    return due


def _upcoming_times(
    steps: Sequence[EscalationStep], current: int, times_out_at: datetime
) -> dict[int, datetime]:
    """When each later step fires if nobody acknowledges: the next when the current times
    out, each one after it the previous one's timeout later."""
    times: dict[int, datetime] = {}
    at = times_out_at
    for index in range(current + 1, len(steps)):
        times[index] = at
        at += timedelta(seconds=steps[index].ack_timeout_seconds)
    return times


async def _ncb_label(session: AsyncSession, country: str) -> str:
    name = await session.scalar(
        select(Agency.name)
        .where(Agency.country_code == country, Agency.kind == AgencyKind.NCB)
        .order_by(Agency.created_at)
        .limit(1)
    )
    return f"NCB {country} ({name})" if name else f"NCB {country}"


def _by_step(
    alerts: list[AlertOut], fired: dict[int, datetime], last_step: int
) -> dict[int, list[StepAlert]]:
    """Each alert in the step that held the request when it was written, once per person."""
    starts = sorted(fired.items())
    grouped: dict[int, dict[uuid.UUID, StepAlert]] = {}
    for alert in alerts:
        step = next(
            (index for index, at in reversed(starts) if at <= alert.created_at),
            0,
        )
        if alert.reason in ("overdue", "reminder"):
            step = last_step
        people = grouped.setdefault(step, {})
        seen = people.get(alert.person.id)
        if seen is None:
            people[alert.person.id] = StepAlert(
                person=alert.person,
                routes=[alert.route],
                count=1,
                first_at=alert.created_at,
                delivered=alert.delivered,
            )
            continue
        seen.count += 1
        seen.delivered = seen.delivered or alert.delivered
        if alert.route not in seen.routes:
            seen.routes.append(alert.route)
    return {step: list(people.values()) for step, people in grouped.items()}


def _state(index: int, current: int, running: bool) -> StepState:
    if index < current:
        return StepState.PASSED
    if index == current:
        return StepState.CURRENT if running else StepState.STOPPED
    return StepState.UPCOMING if running else StepState.NOT_REACHED


async def chain_of(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID
) -> EscalationChainOut:
    """The chain, for whoever may see the request (else 404, as GET /v1/requests/{id})."""
    request: CooperationRequest = await access.find_visible(session, actor, request_id)
    country = request.target_country
    policies = await effective_documents(session, {country})
    steps = policies[country].steps_for(request.type, request.priority)
    moves = await _moves(session, request.id)
    running = DeadlineKind.ACK not in lifecycle.moot_kinds(request)
    current = min(request.escalation_step, len(steps) - 1)
    pending = await _pending_ack(session, request.id) if running else None

    upcoming: dict[int, datetime] = {}
    if running and request.overdue_at is None:
        times_out_at = pending or request.ack_due_at
        if times_out_at is not None:
            upcoming = _upcoming_times(steps, current, times_out_at)
    # Who the roster puts on duty when each upcoming on-duty step would fire.
    on_duty: dict[int, uuid.UUID | None] = {}
    rostered = [i for i, at in upcoming.items() if steps[i].target in _LAYERS]
    if rostered:
        start = min(upcoming[i] for i in rostered)
        end = max(upcoming[i] for i in rostered) + _INSTANT_WIDTH
        roster = await store.load(session, country, start, end)
        on_duty = {
            i: routing.on_duty(roster, upcoming[i], _LAYERS[steps[i].target]) for i in rostered
        }

    named = [who for _, who in moves.values()] + list(on_duty.values())
    people = await person_refs.describe(session, actor, [*named, request.acknowledged_by])
    alerts = await timeline.escalation_alerts(session, actor, request.id, limit=ALERTS_LIMIT)
    alerted = _by_step(alerts, {s: at for s, (at, _) in moves.items()}, len(steps) - 1)
    ncb = (
        await _ncb_label(session, country)
        if any(s.target is EscalationTarget.NCB for s in steps)
        else ""
    )

    def label(target: EscalationTarget) -> str:
        if target is EscalationTarget.NCB:
            return ncb
        if target is EscalationTarget.GLOBAL_DESK:
            return "the global desk"
        return f"{country} desk"

    chain: list[ChainStep] = []
    for index, step in enumerate(steps):
        move = moves.get(index) if index <= request.escalation_step else None
        reaches_id = move[1] if move else on_duty.get(index)
        reaches: PersonRef | None = people.get(reaches_id) if reaches_id else None
        state = _state(index, current, running)
        due = upcoming.get(index)
        if state is StepState.CURRENT and request.overdue_at is None:
            due = pending or request.ack_due_at
        chain.append(
            ChainStep(
                step=index,
                target=step.target,
                ack_timeout_seconds=step.ack_timeout_seconds,
                label=label(step.target),
                reaches=reaches,
                state=state,
                fired_at=move[0] if move else None,
                due_at=due,
                alerted=alerted.get(index, []),
            )
        )
    return EscalationChainOut(
        request_id=request.id,
        running=running,
        current_step=current,
        acknowledged_at=request.acknowledged_at,
        acknowledged_by=people.get(request.acknowledged_by) if request.acknowledged_by else None,
        overdue_at=request.overdue_at,
        next_reminder_at=pending if running and request.overdue_at is not None else None,
        steps=chain,
    )
