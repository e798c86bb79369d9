"""What a due deadline does to its request: escalate it to the next step of its policy, flag
it overdue and remind the global desk, or warn of (and record) the end of its legal response
clock. Nothing here fires a deadline that someone made moot by acting.

The worker (worker.py) claims a batch of due deadlines with their requests' row locks and
hands them to a FiringBatch in one transaction. Each firing is decided on its own, in order,
but written with the others: the requests' and deadlines' changes by one flush of the unit of
work, the next deadlines, the audit entries and the events in one statement each. A burst of
deadlines due together costs a few round trips per batch, not several per firing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.alerts import rules
from app.deadlines import rows
from app.deadlines.escalation_policies import effective_documents
from app.deadlines.escalation_policy import EscalationPolicyDocument, EscalationStep
from app.drills import outcomes as drill_outcomes
from app.models import CooperationRequest, DeadlineKind, Principal, RequestDeadline
from app.models.enums import Assignment, EscalationTarget, Layer
from app.outbox import fanout
from app.outbox.fanout import Fanned
from app.realtime import audience, event_log
from app.requests import access, lifecycle, views
from app.rosters import routing, store
from app.rosters.store import Roster

_INSTANT_WIDTH = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Fired:
    request_id: str
    kind: DeadlineKind
    step: int
    outcome: str  # escalated, overdue, reminded, warned, breached, repeated, superseded, moot


class FiringBatch:
    """The firings of one transaction, all at the database's ``now``: what they need to read
    (policies, rosters, agencies) is read once per batch, and what they write is gathered
    and written by ``write()``."""

    def __init__(self, session: AsyncSession, now: datetime, poll_interval: timedelta) -> None:
        self.session = session
        self.now = now
        self._poll_interval = poll_interval
        self._policies: dict[str, EscalationPolicyDocument] = {}
        self._rosters: dict[str, Roster] = {}
        self._agencies: dict[uuid.UUID, uuid.UUID | None] = {}
        self._next_deadlines: list[dict[str, Any]] = []
        self._entries: defaultdict[str, list[audit.Entry]] = defaultdict(list)
        self._alerts: list[Fanned] = []

    async def read_policies(self, countries: set[str]) -> None:
        self._policies = await effective_documents(self.session, countries)

    def steps(self, request: CooperationRequest) -> list[EscalationStep]:
        return self._policies[request.target_country].steps_for(request.type, request.priority)

    async def on_duty(self, country: str, layer: Layer) -> uuid.UUID | None:
        roster = self._rosters.get(country)
        if roster is None:
            roster = await store.load(self.session, country, self.now, self.now + _INSTANT_WIDTH)
            self._rosters[country] = roster
        return routing.on_duty(roster, self.now, layer)

    async def agency_of(self, principal_id: uuid.UUID) -> uuid.UUID | None:
        if principal_id not in self._agencies:
            self._agencies[principal_id] = await self.session.scalar(
                select(Principal.agency_id).where(Principal.id == principal_id)
            )
        return self._agencies[principal_id]

    def add_deadline(
        self, request: CooperationRequest, kind: DeadlineKind, step: int, due_at: datetime
    ) -> None:
        self._next_deadlines.append(
            {"request_id": request.id, "kind": kind, "step": step, "due_at": due_at}
        )
        rows.wake_if_near(self.session, due_at - self.now, poll_interval=self._poll_interval)

    def audit(self, action: str, request: CooperationRequest, details: dict[str, Any]) -> None:
        self._entries[action].append(
            audit.Entry(
                str(request.id), request.content_hash, details, access.countries_of(request)
            )
        )

    def alert(self, alert: Fanned) -> None:
        self._alerts.append(alert)

    async def write(self) -> None:
        """The requests' and deadlines' changes, then the new deadlines, the audit entries and
        the repeated alerts. The events (event_log.batched around the batch) are written
        after, last."""
        await self.session.flush()
        if self._next_deadlines:
            # The unique (request, kind, step) makes a second write of a deadline a no-op.
            await self.session.execute(
                pg_insert(RequestDeadline).on_conflict_do_nothing(), self._next_deadlines
            )
        for action, entries in self._entries.items():
            # The service acts by itself: no principal did this.
            await audit.record_each(
                self.session, None, action, object_type=access.OBJECT_TYPE, entries=entries
            )
        await fanout.fan_out(self.session, self._alerts)


def _seconds(step: EscalationStep) -> timedelta:
    return timedelta(seconds=step.ack_timeout_seconds)


async def _hand_to(
    batch: FiringBatch, request: CooperationRequest, target: EscalationTarget
) -> None:
    """Assign the request as the step's target says: a contact point on duty now, else the
    target desk as a whole (which its NCB and the global desk follow). ``assignment`` says
    why it is there, whichever holds it: ``desk`` would tell a reader that nobody was on duty
    when it arrived, not that the people on duty let it pass."""
    who = None
    if target in (EscalationTarget.ON_DUTY_PRIMARY, EscalationTarget.ON_DUTY_BACKUP):
        layer = Layer.PRIMARY if target is EscalationTarget.ON_DUTY_PRIMARY else Layer.BACKUP
        who = await batch.on_duty(request.target_country, layer)
    request.assigned_to = who
    request.assigned_agency_id = await batch.agency_of(who) if who is not None else None
    request.assignment = Assignment.ESCALATED
    request.assigned_at = batch.now


def _informed(request: CooperationRequest, target: EscalationTarget) -> list[str]:
    """The new holder, the target desk (its NCB and the global desk follow it) and the sender."""
    channels = access.channels_of(request)
    if target is EscalationTarget.GLOBAL_DESK:
        channels.append(audience.GLOBAL_DESK)
    return channels


async def _escalate(
    batch: FiringBatch, request: CooperationRequest, steps: list[EscalationStep], to_step: int
) -> None:
    now = batch.now
    step = steps[to_step]
    previous_holder = request.assigned_to
    from_step = request.escalation_step
    await _hand_to(batch, request, step.target)
    request.escalation_step = to_step
    request.escalated_to = step.target
    request.escalated_at = request.updated_at = now
    request.ack_due_at = now + _seconds(step)
    request.version += 1
    batch.add_deadline(request, DeadlineKind.ACK, to_step, request.ack_due_at)
    batch.audit(
        "request.escalated",
        request,
        {
            "from_step": from_step,
            "to_step": to_step,
            "target": step.target.value,
            "assigned_to": str(request.assigned_to) if request.assigned_to else None,
        },
    )
    channels = _informed(request, step.target)
    if previous_holder is not None and previous_holder != request.assigned_to:
        channels.append(audience.principal_channel(previous_holder))
    await event_log.publish(
        batch.session,
        "request.escalated",
        channels=channels,
        request_id=request.id,
        data={**views.event_data(request), "target": step.target.value},
    )


async def _remind(
    batch: FiringBatch, request: CooperationRequest, steps: list[EscalationStep], reminder: int
) -> None:
    """Past the last step: flag the request overdue (the first time) and tell the global desk,
    again every interval of the last step, until someone acts."""
    now = batch.now
    if request.overdue_at is None:
        request.overdue_at = request.updated_at = now
        request.version += 1
        if request.drill_id is not None:
            await drill_outcomes.tell_failed(batch.session, request)
    batch.add_deadline(request, DeadlineKind.REMINDER, reminder + 1, now + _seconds(steps[-1]))
    batch.audit("request.overdue", request, {"reminder": reminder, "step": request.escalation_step})
    await event_log.publish(
        batch.session,
        "request.overdue",
        channels=[
            audience.GLOBAL_DESK,
            audience.desk_channel(request.target_country),
            audience.agency_channel(request.requesting_agency_id),
        ],
        request_id=request.id,
        data={**views.event_data(request), "reminder": reminder},
    )


async def _fire_response_clock(
    batch: FiringBatch, deadline: RequestDeadline, request: CooperationRequest
) -> str:
    """A warning (step: the percent of the time to respond gone) or the breach: pushed to the
    assignee, the target desk (followed by its NCB and the global desk) and the requester's
    agency. ``fired_at`` and the row lock make it once, whichever instance claims it."""
    due_at = request.response_due_at.isoformat() if request.response_due_at else None
    if deadline.kind is DeadlineKind.RESPONSE_WARNING:
        batch.audit(
            "request.response_warning",
            request,
            {"percent": deadline.step, "response_due_at": due_at},
        )
        await event_log.publish(
            batch.session,
            "request.response_warning",
            channels=access.channels_of(request),
            request_id=request.id,
            data={**views.event_data(request), "percent": deadline.step},
        )
        return "warned"
    request.response_breached_at = request.updated_at = batch.now
    request.version += 1
    batch.audit("request.breached", request, {"response_due_at": due_at})
    # The desk channel is the NCB's step: the NCB (and the global desk) follow it.
    await event_log.publish(
        batch.session,
        "request.breached",
        channels=access.channels_of(request),
        request_id=request.id,
        data=views.event_data(request),
    )
    return "breached"


async def _fire_escalation(
    batch: FiringBatch, deadline: RequestDeadline, request: CooperationRequest
) -> str:
    steps = batch.steps(request)
    if deadline.kind is DeadlineKind.ACK and deadline.step + 1 < len(steps):
        await _escalate(batch, request, steps, deadline.step + 1)
        return "escalated"
    if deadline.kind is DeadlineKind.ACK:
        await _remind(batch, request, steps, 0)
        return "overdue"
    await _remind(batch, request, steps, deadline.step)
    return "reminded"


async def _repeat_alert(
    batch: FiringBatch, deadline: RequestDeadline, request: CooperationRequest
) -> str:
    """Nobody has acknowledged: whoever holds the request now is alerted again, and again
    after the repeat interval of the step it is at. Once it is overdue, the global desk's
    reminders (which alert too) take over."""
    if request.overdue_at is not None:
        return "superseded"
    steps = batch.steps(request)
    step = steps[min(request.escalation_step, len(steps) - 1)]
    batch.add_deadline(
        request,
        DeadlineKind.ALERT_REPEAT,
        deadline.step + 1,
        batch.now + timedelta(seconds=step.alert_repeat_seconds),
    )
    data = {**views.event_data(request), "target": step.target.value}
    batch.alert(Fanned("request.alert_repeat", (), request.id, data, rules.holders(data, "repeat")))
    return "repeated"


async def fire(batch: FiringBatch, deadline: RequestDeadline, request: CooperationRequest) -> str:
    """Fire one claimed deadline (its row and its request's locked by the caller)."""
    # Someone acted, or the request ended: the actions cancel the rows, and this is the net
    # (app/requests/lifecycle.py says which steps make which kinds moot).
    if deadline.kind in lifecycle.moot_kinds(request):
        deadline.cancelled_at = batch.now
        return "moot"
    deadline.fired_at = batch.now
    if deadline.kind is DeadlineKind.ALERT_REPEAT:
        return await _repeat_alert(batch, deadline, request)
    if deadline.kind in rows.RESPONSE_CLOCK:
        return await _fire_response_clock(batch, deadline, request)
    return await _fire_escalation(batch, deadline, request)


async def fire_claimed(
    session: AsyncSession,
    claimed: list[tuple[RequestDeadline, CooperationRequest]],
    now: datetime,
    poll_interval: timedelta,
) -> list[Fired]:
    """Fire the claimed deadlines in order and write all they do; the caller commits.
    ``poll_interval``: the workers' safety-net look, which finds a next deadline due after it
    without being woken."""
    batch = FiringBatch(session, now, poll_interval)
    await batch.read_policies({request.target_country for _, request in claimed})
    fired = []
    # The batch's events lock their channels' counters all at once, in one order, and last:
    # two batches publishing on each other's channels one firing at a time would deadlock.
    async with event_log.batched(session):
        for deadline, request in claimed:
            outcome = await fire(batch, deadline, request)
            fired.append(Fired(str(request.id), deadline.kind, deadline.step, outcome))
        await batch.write()
    return fired
