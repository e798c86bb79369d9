"""Submission: the one statement that writes a request, the first step of its history and
its first deadlines; and submit, which checks the sender's access agreements, routes the
request and answers an Idempotency-Key retry with the first answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, bindparam, func, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Interval

from app import retention
from app.core.canonical import sha256_hex
from app.core.errors import ForbiddenError, InvalidInputError
from app.core.settings import ApiSettings, ExchangeSettings
from app.deadlines import rows as deadline_rows
from app.deadlines.escalation_policy import EscalationPolicyDocument
from app.directory import agreements
from app.identity import policy
from app.identity.auth import Actor
from app.matching import events as matching_events
from app.matching import submit as matching_submit
from app.models import (
    CooperationRequest,
    DeadlineKind,
    Principal,
    RequestDeadline,
    RequestTransition,
    table_of,
)
from app.models.enums import Assignment, RequestStatus, Side
from app.realtime import audience, event_log
from app.requests import handling, idempotency
from app.requests.access import audit_request, reads_content
from app.requests.schemas import RequestCreate, SubmittedRequest
from app.requests.views import content_of, event_data, fields_of
from app.rosters import routing

_requests = table_of(CooperationRequest)
_transitions = table_of(RequestTransition)
_deadlines = table_of(RequestDeadline)


# Every column submit writes, as a named parameter: the statement is built once, and each
# submit only binds values (building it per call cost a millisecond of CPU per request).
_SUBMITTED_COLUMNS = (
    "id",
    "type",
    "priority",
    "status",
    "requesting_agency_id",
    "requesting_country",
    "target_country",
    "created_by",
    "headline",
    "subject",
    "details",
    "identifiers",
    "legal_basis",
    "handling_code",
    "onward_use",
    "handling_note",
    "content_hash",
    "assigned_to",
    "assignment",
    "retention_days",
    # None but for a readiness drill's request (app/drills/).
    "drill_id",
)


def _submit_statement() -> Any:
    """One statement, one round trip: the request, the first step of its history and the
    deadline of the first escalation step (on the database clock, like created_at)."""
    written = (
        insert(_requests)
        .values(
            {name: bindparam(name, type_=_requests.c[name].type) for name in _SUBMITTED_COLUMNS}
            # The assignee's agency: with the sender, the agencies that may read TLP:RED.
            | {
                "assigned_agency_id": select(Principal.agency_id)
                .where(Principal.id == bindparam("assigned_to", type_=Uuid))
                .scalar_subquery(),
                "ack_due_at": func.now() + bindparam("ack_timeout", type_=Interval),
                "response_due_at": func.now() + bindparam("breach", type_=Interval),
            }
        )
        .returning(
            _requests.c.id,
            _requests.c.created_by,
            _requests.c.requesting_agency_id,
            _requests.c.requesting_country,
            _requests.c.created_at,
            _requests.c.updated_at,
            _requests.c.assigned_at,
            _requests.c.assigned_agency_id,
            _requests.c.version,
            _requests.c.escalation_step,
            _requests.c.ack_due_at,
            _requests.c.response_due_at,
        )
        .cte("written")
    )
    first_step = (
        insert(_transitions)
        .from_select(
            ["request_id", "to_status", "side", "actor_principal_id", "actor_agency_id", "at"],
            select(
                written.c.id,
                literal(RequestStatus.SUBMITTED.value),
                literal(Side.REQUESTER.value),
                written.c.created_by,
                written.c.requesting_agency_id,
                written.c.created_at,
            ),
        )
        .cte("first_step")
    )
    first_deadline = (
        insert(_deadlines)
        .from_select(
            ["request_id", "kind", "step", "due_at"],
            select(
                written.c.id,
                literal(DeadlineKind.ACK.value),
                written.c.escalation_step,
                written.c.ack_due_at,
            ),
        )
        .cte("first_deadline")
    )
    # The legal response clock: its warnings and its breach, at fixed shares of the time to
    # respond (deadline_rows.response_clock_offsets binds them).
    warnings = [
        select(
            written.c.id,
            literal(DeadlineKind.RESPONSE_WARNING.value),
            literal(percent),
            written.c.created_at + bindparam(f"warn_{percent}", type_=Interval),
        )
        for percent in deadline_rows.WARNING_PERCENTS
    ]
    breach = select(
        written.c.id,
        literal(DeadlineKind.RESPONSE_BREACH.value),
        literal(deadline_rows.BREACH_STEP),
        written.c.response_due_at,
    )
    # Whoever it reaches is alerted again until someone acknowledges (app/alerts/).
    first_repeat = select(
        written.c.id,
        literal(DeadlineKind.ALERT_REPEAT.value),
        literal(1),
        written.c.created_at + bindparam("alert_repeat", type_=Interval),
    )
    response_clock = (
        insert(_deadlines)
        .from_select(
            ["request_id", "kind", "step", "due_at"], union_all(*warnings, breach, first_repeat)
        )
        .cte("response_clock")
    )
    # Matching (app/matching/submit.py): its identifiers kept, the store's objects that carry
    # them found, in this same round trip.
    identified, matched = matching_submit.ctes(written)
    return select(
        written.c.created_at,
        written.c.updated_at,
        written.c.assigned_at,
        written.c.assigned_agency_id,
        written.c.version,
        written.c.escalation_step,
        written.c.ack_due_at,
        written.c.response_due_at,
        matching_submit.visible_count(matched).label("matches_seen"),
    ).add_cte(first_step, first_deadline, response_clock, identified, matched)


_SUBMIT = _submit_statement()


def _split(row: Any) -> tuple[dict[str, Any], int]:
    """The request's stamps, and how many matches its sender may see."""
    stamps = row._asdict()
    return stamps, stamps.pop("matches_seen")


# --- sending: what a submission and a drill (app/drills/) do alike --------------------------


async def write(
    session: AsyncSession,
    values: dict[str, Any],
    escalation: EscalationPolicyDocument,
    *,
    exchange: ExchangeSettings,
) -> tuple[CooperationRequest, int]:
    """Write the request ``values`` describe (every column of _SUBMITTED_COLUMNS) with its
    first step, its first ack deadline from ``escalation`` (the target's policy), its response
    clock and its first alert repeat, and wake the deadline workers if one is near. Returns
    the request as written (a transient object, never added to the session) and how many
    matches its sender may see."""
    request_type, priority = values["type"], values["priority"]
    ack_timeout = deadline_rows.first_ack_timeout(escalation, request_type, priority)
    response_clock = deadline_rows.response_clock_offsets(
        deadline_rows.response_time(escalation, request_type, priority)
    )
    alert_repeat = deadline_rows.alert_repeat_interval(escalation, request_type, priority, 0)
    stamps, matches_seen = _split(
        (
            await session.execute(
                _SUBMIT,
                values
                | {"ack_timeout": ack_timeout, "alert_repeat": alert_repeat}
                | response_clock
                | matching_submit.parameters(values["identifiers"]),
            )
        ).one()
    )
    # The row is written; this transient object (never added to the session) only carries
    # its values to the view, the audit entry and the event.
    request = CooperationRequest(
        **values,
        **stamps,
        escalated_at=None,
        overdue_at=None,
        response_paused_at=None,
        response_breached_at=None,
    )
    deadline_rows.wake_if_near(
        session,
        min(ack_timeout, *response_clock.values()),
        poll_interval=exchange.deadline_poll_interval,
    )
    return request, matches_seen


async def announce(session: AsyncSession, request: CooperationRequest) -> None:
    """The whole desk (and the NCB and the global desk, who follow it) sees every arrival;
    the assignee hears it on their own channel too. The alerts follow from this event."""
    channels = [audience.desk_channel(request.target_country)]
    if request.assigned_to is not None:
        channels.append(audience.principal_channel(request.assigned_to))
    await event_log.publish(
        session,
        "request.assigned",
        channels=channels,
        request_id=request.id,
        data=event_data(request),
    )


# --- use cases ------------------------------------------------------------------------------


def fingerprint(draft: RequestCreate) -> str:
    """What an Idempotency-Key's body is compared by: every field, the headline included (a
    replay with another headline is another body). A body without one hashes as it did before
    the headline existed, so a key used just before an upgrade still replays after it."""
    unset = {"headline"} if draft.headline is None else None
    return sha256_hex(draft.model_dump(mode="json", exclude=unset))


@dataclass(frozen=True, slots=True)
class Submission:
    request: SubmittedRequest
    replayed: bool  # True: an Idempotency-Key retry, answered with the request it made


async def _replayed(
    session: AsyncSession, actor: Actor, first: idempotency.FirstAnswer
) -> SubmittedRequest:
    """The request the key's first use made, as it stands now: its content is not kept with
    the key, so once purged the retry gets the purged request (``content`` null,
    ``purged_at`` set), still the proof that the submission was made and must not be sent
    again under a new key. Showing the content is a read, audited as a GET's."""
    request = await session.get_one(CooperationRequest, first.request_id)
    if reads_content(actor, request):
        await audit_request(session, actor, "request.read", request)
    return SubmittedRequest.model_validate(
        {**fields_of(request, actor), "warnings": first.warnings}
    )


async def submit(
    session: AsyncSession,
    actor: Actor,
    draft: RequestCreate,
    *,
    idempotency_key: str | None,
    api: ApiSettings,
    exchange: ExchangeSettings,
) -> Submission:
    """Check the sender's access agreements, write the request, and route it to the target
    desk's on-duty primary (or, with nobody on duty, to the whole desk)."""
    policy.require(actor, policy.Action.SUBMIT_REQUEST)
    if idempotency_key is not None:
        stored = await idempotency.claim(
            session,
            agency_id=actor.agency_id,
            key=idempotency_key,
            fingerprint=fingerprint(draft),
            lifetime=api.idempotency_key_lifetime,
        )
        if stored is not None:
            return Submission(request=await _replayed(session, actor, stored), replayed=True)

    handling.check_note(draft.onward_use, draft.handling_note)
    if draft.target_country == actor.country:
        raise InvalidInputError(
            f"target_country {draft.target_country} is your own country: relay247 carries "
            "requests between countries"
        )
    context = await routing.load_context(
        session, agency_id=actor.agency_id, target_country=draft.target_country
    )
    if context.target is None or context.roster is None or context.escalation is None:
        raise InvalidInputError(
            f"target_country {draft.target_country} is not a country of the network"
        )
    refused = agreements.refusal(
        context.agreements,
        request_type=draft.type,
        target_country=draft.target_country,
        priority=draft.priority,
        now=context.now,
    )
    if refused is not None:
        reason = str(refused.reason)
        raise ForbiddenError(
            f"refused by access agreements ({reason}): {refused.detail}", reason=reason
        )
    assignee = routing.on_duty_primary(context.roster, context.now)

    content = content_of(draft)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "type": draft.type,
        "priority": draft.priority,
        "status": RequestStatus.SUBMITTED,
        "requesting_agency_id": actor.agency_id,
        "requesting_country": actor.country,
        "target_country": draft.target_country,
        "created_by": actor.principal_id,
        # Metadata, outside the content and its hash: lists show it without a content read.
        "headline": draft.headline,
        **content,
        "handling_code": draft.handling_code,
        "onward_use": list(draft.onward_use),
        "handling_note": draft.handling_note,
        "content_hash": sha256_hex(content),
        "assigned_to": assignee,
        "assignment": Assignment.ON_DUTY if assignee else Assignment.DESK,
        "retention_days": retention.retention_days(draft.type, exchange.retention_days),
        "drill_id": None,
    }
    request, matches_seen = await write(session, values, context.escalation, exchange=exchange)
    view = SubmittedRequest.model_validate(
        {**fields_of(request, actor), "warnings": routing.warnings(context.target, draft.type)}
    )
    if idempotency_key is not None:
        await idempotency.store(
            session,
            agency_id=actor.agency_id,
            key=idempotency_key,
            answer=idempotency.FirstAnswer(request_id=request.id, warnings=view.warnings),
        )
    await audit_request(
        session,
        actor,
        "request.submitted",
        request,
        {
            "target_country": request.target_country,
            "type": request.type.value,
            "assigned_to": str(request.assigned_to) if request.assigned_to else None,
        },
    )
    await announce(session, request)
    if matches_seen:
        await matching_events.tell_requesters(
            session, [matching_events.Told(request.id, request.requesting_agency_id, matches_seen)]
        )
    return Submission(request=view, replayed=False)
