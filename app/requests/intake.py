"""Submission: submit, which checks the sender's access agreements, routes the request (or
holds an emergency disclosure for four-eyes approval, app/approvals/) and answers an
Idempotency-Key retry with the first answer; and send_approved, which sends a held request
once approved, the same way. The statement that writes a request is submit_statement.py's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import retention
from app.approvals import holding
from app.approvals import queries as approval_queries
from app.approvals import rules as four_eyes
from app.approvals.schemas import ApprovalOut
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
from app.models import CooperationRequest
from app.models.enums import Assignment, RequestStatus, Role
from app.realtime import audience, event_log
from app.requests import handling, idempotency, submit_statement
from app.requests.access import audit_request, reads_content
from app.requests.schemas import RequestCreate, SubmittedRequest
from app.requests.views import content_of, event_data, fields_of
from app.rosters import routing

# --- sending: what a submission and a drill (app/drills/) do alike --------------------------


async def write(
    session: AsyncSession,
    values: dict[str, Any],
    escalation: EscalationPolicyDocument,
    *,
    exchange: ExchangeSettings,
) -> tuple[CooperationRequest, int]:
    """Write the request ``values`` describe (every column of submit_statement's columns) with its
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
    stamps, matches_seen = submit_statement.split(
        (
            await session.execute(
                submit_statement.SUBMIT,
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
    request: SubmittedRequest | None  # None: held for a second officer's approval (``held``)
    replayed: bool  # True: an Idempotency-Key retry, answered with the request it made
    held: ApprovalOut | None = None


@dataclass(frozen=True, slots=True)
class Approved:
    """A held request's approval, which the request carries to its target (app/approvals/)."""

    request_id: uuid.UUID  # the approval's id, which the request takes
    role: Role  # the approving officer's


async def _replayed(
    session: AsyncSession, actor: Actor, first: idempotency.FirstAnswer
) -> Submission:
    """The request the key's first use made, as it stands now: its content is not kept with
    the key, so once purged the retry gets the purged request (``content`` null,
    ``purged_at`` set), still the proof that the submission was made and must not be sent
    again under a new key. Showing the content is a read, audited as a GET's. A submission
    held for approval and not sent (yet, or ever) is answered with its approval."""
    request = await session.get(CooperationRequest, first.request_id)
    if request is None:
        held = await approval_queries.get(session, actor, first.request_id, with_content=False)
        return Submission(request=None, replayed=True, held=held)
    if reads_content(actor, request):
        await audit_request(session, actor, "request.read", request)
    view = SubmittedRequest.model_validate(
        {**fields_of(request, actor), "warnings": first.warnings}
    )
    return Submission(request=view, replayed=True)


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
    desk's on-duty primary (or, with nobody on duty, to the whole desk). An emergency
    disclosure that its agreement or country says a second officer must approve is held
    instead, unrouted (app/approvals/), and sent by :func:`send_approved` once approved."""
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
            return await _replayed(session, actor, stored)

    context = await _checked_context(session, actor, draft)
    # Four-eyes: the one check every other request type pays, a comparison.
    if draft.type is four_eyes.HELD_TYPE:
        held = await holding.hold_if_required(session, actor, draft, context, exchange=exchange)
        if held is not None:
            if idempotency_key is not None:
                answer = idempotency.FirstAnswer(request_id=held.id, warnings=[], held=True)
                await idempotency.store(
                    session, agency_id=actor.agency_id, key=idempotency_key, answer=answer
                )
            return Submission(request=None, replayed=False, held=held)
    view = await _send(session, actor, draft, context, exchange=exchange)
    if idempotency_key is not None:
        await idempotency.store(
            session,
            agency_id=actor.agency_id,
            key=idempotency_key,
            answer=idempotency.FirstAnswer(request_id=view.id, warnings=view.warnings),
        )
    return Submission(request=view, replayed=False)


async def send_approved(
    session: AsyncSession,
    requester: Actor,
    draft: RequestCreate,
    approved: Approved,
    *,
    exchange: ExchangeSettings,
) -> SubmittedRequest:
    """Send a held request its approver approved, exactly as its submit would have: the
    sender's agreements checked again (they may have ended meanwhile), then routed to whoever
    is on duty now, its deadlines counted from now."""
    policy.require(requester, policy.Action.SUBMIT_REQUEST)  # still a unit officer
    context = await _checked_context(session, requester, draft)
    return await _send(session, requester, draft, context, exchange=exchange, approved=approved)


async def _checked_context(
    session: AsyncSession, actor: Actor, draft: RequestCreate
) -> routing.RoutingContext:
    """The routing context, once the request is known to be one its sender may send."""
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
    return context


async def _send(
    session: AsyncSession,
    actor: Actor,
    draft: RequestCreate,
    context: routing.RoutingContext,
    *,
    exchange: ExchangeSettings,
    approved: Approved | None = None,
) -> SubmittedRequest:
    """Write the request and route it: its deadlines, its audit entry, its event."""
    # _checked_context made sure of these.
    assert context.roster is not None
    assert context.escalation is not None
    assert context.target is not None
    assignee = routing.on_duty_primary(context.roster, context.now)

    content = content_of(draft)
    values: dict[str, Any] = {
        "id": approved.request_id if approved else uuid.uuid4(),
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
        "approved_at": context.now if approved else None,
        "approved_by_role": approved.role if approved else None,
        "drill_id": None,
    }
    request, matches_seen = await write(session, values, context.escalation, exchange=exchange)
    view = SubmittedRequest.model_validate(
        {**fields_of(request, actor), "warnings": routing.warnings(context.target, draft.type)}
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
        }
        | ({"approved_by_role": approved.role.value} if approved else {}),
    )
    await announce(session, request)
    if matches_seen:
        await matching_events.tell_requesters(
            session, [matching_events.Told(request.id, request.requesting_agency_id, matches_seen)]
        )
    return view
