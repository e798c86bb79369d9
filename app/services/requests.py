"""Cooperation requests: submit, read, list; and who may see each one. What happens to them
afterwards is in app/services/actions.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Uuid,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Interval

from app import policy
from app.canonical import sha256_hex
from app.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from app.models import (
    AuditEntry,
    CooperationRequest,
    DeadlineKind,
    Principal,
    RequestDeadline,
    RequestTransition,
    table_of,
)
from app.models.enums import (
    Assignment,
    Attention,
    Priority,
    RequestStatus,
    RequestType,
    Side,
)
from app.pagination import Cursor
from app.schemas.requests import (
    EscalationOut,
    Identifier,
    LegalHoldOut,
    RequestContentOut,
    RequestCreate,
    RequestDetailOut,
    RequestOut,
    RequestPage,
    SubmittedRequest,
    UnconfirmedRequest,
)
from app.services import (
    audit,
    events,
    handling,
    idempotency,
    lifecycle,
    retention,
    routing,
)
from app.services.auth import Actor
from app.services.deadlines import rows as deadline_rows
from app.services.directory import agreements

OBJECT_TYPE = "request"


# --- who may see and do what ---------------------------------------------------------------


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """Which requests the actor sees at all (app/policy.py); anything else does not exist."""
    return policy.where(
        actor,
        policy.Action.READ_REQUEST,
        country=CooperationRequest.target_country,
        agency=CooperationRequest.requesting_agency_id,
        sending_country=CooperationRequest.requesting_country,
        holding_agency=CooperationRequest.assigned_agency_id,
    )


def owner_of(request: CooperationRequest) -> policy.Owner:
    """A request belongs to its target country and to the agency that sent it; it was sent
    from the sender's country and is held by its assignee's agency (if any)."""
    return policy.Owner(
        country=request.target_country,
        agency_id=request.requesting_agency_id,
        sending_country=request.requesting_country,
        holding_agency_id=request.assigned_agency_id,
    )


def countries_of(request: CooperationRequest) -> tuple[str, str]:
    """The countries a request concerns, whose auditors see its audit entries: its target and
    its sender's."""
    return (request.target_country, request.requesting_country)


def reads_content(actor: Actor, request: CooperationRequest) -> bool:
    """Whether the actor may read this request's content, by its handling code; a purged
    request has none left to read."""
    return request.purged_at is None and handling.may_read(
        actor, request.handling_code, owner_of(request)
    )


async def find_visible(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, *, lock: bool = False
) -> CooperationRequest:
    """The request, if the actor may see it (else 404, as if it did not exist); ``lock``
    takes its row lock, for a use case that decides on its state."""
    query = select(CooperationRequest).where(CooperationRequest.id == request_id, visible_to(actor))
    request = await session.scalar(query.with_for_update() if lock else query)
    if request is None:
        raise NotFoundError(f"no request {request_id} that you may see")
    return request


def side_of(actor: Actor, request: CooperationRequest) -> Side | None:
    """Which side of the request the actor acts for, if any (app/policy.py)."""
    owner = owner_of(request)
    if policy.permits(actor, policy.Action.ACT_AS_REQUESTER, owner):
        return Side.REQUESTER
    if policy.permits(actor, policy.Action.ACT_AS_TARGET, owner):
        return Side.TARGET
    return None


def participant_side(actor: Actor, request: CooperationRequest, *, adding: str) -> Side:
    """The side the actor writes for in the request's exchange (messages, files), which must
    be open: a final or purged request takes no more ``adding``."""
    policy.require(actor, policy.Action.TAKE_PART, owner_of(request))
    side = side_of(actor, request)
    if side is None:
        raise ForbiddenError("you act for neither side of this request")
    if request.purged_at is not None:
        raise ConflictError(
            f"the request's content has been purged: it takes no more {adding}",
            current_status=request.status.value,
        )
    if lifecycle.is_final(request.status):
        raise ConflictError(
            f"the request is {request.status.value}: it takes no more {adding}",
            current_status=request.status.value,
        )
    return side


def channels_of(request: CooperationRequest) -> list[str]:
    """Both sides' channels: the sender's agency, the target desk (which the NCB and the
    global desk follow) and the assignee's own."""
    channels = [
        events.agency_channel(request.requesting_agency_id),
        events.desk_channel(request.target_country),
    ]
    if request.assigned_to is not None:
        channels.append(events.principal_channel(request.assigned_to))
    return channels


# --- views ----------------------------------------------------------------------------------


def _content(request: CooperationRequest | RequestCreate) -> dict[str, Any]:
    identifiers = [
        i.model_dump(mode="json") if isinstance(i, Identifier) else i
        for i in request.identifiers or []
    ]
    return {
        "subject": request.subject,
        "details": request.details,
        "identifiers": identifiers,
        "legal_basis": request.legal_basis,
    }


def _fields(request: CooperationRequest, actor: Actor) -> dict[str, Any]:
    content = (
        RequestContentOut.model_validate(_content(request))
        if reads_content(actor, request)
        else None
    )
    hold = (
        LegalHoldOut(
            set_at=request.legal_hold_at,
            set_by=request.legal_hold_by,
            # A hold's reason may name a case: for who reads the content or may hold it.
            reason=request.legal_hold_reason
            if content is not None
            or policy.permits(actor, policy.Action.HOLD_REQUEST, owner_of(request))
            else None,
        )
        if request.legal_hold_at is not None and request.legal_hold_by is not None
        else None
    )
    computed = {"content", "legal_hold", "retain_until"}
    return {
        **{c: getattr(request, c) for c in RequestOut.model_fields if c not in computed},
        "content": content,
        "legal_hold": hold,
        "retain_until": (
            request.closed_at + timedelta(days=request.retention_days)
            if request.closed_at is not None
            else None
        ),
    }


def _view(request: CooperationRequest, actor: Actor) -> RequestOut:
    return RequestOut.model_validate(_fields(request, actor))


def event_data(request: CooperationRequest) -> dict[str, Any]:
    """What a push carries: metadata, never content. Content is read with an audited GET."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "request_id": str(request.id),
        "type": request.type.value,
        "priority": request.priority.value,
        "status": request.status.value,
        "requesting_country": request.requesting_country,
        "requesting_agency_id": str(request.requesting_agency_id),
        "target_country": request.target_country,
        "handling_code": request.handling_code.value,
        "created_at": iso(request.created_at),
        "delivered_at": iso(request.delivered_at),
        "delivered_by": str(request.delivered_by) if request.delivered_by else None,
        "acknowledged_at": iso(request.acknowledged_at),
        "acknowledged_by": str(request.acknowledged_by) if request.acknowledged_by else None,
        "assigned_to": str(request.assigned_to) if request.assigned_to else None,
        "assignment": request.assignment.value,
        "assigned_at": iso(request.assigned_at),
        "version": request.version,
        "closed_at": iso(request.closed_at),
        "escalation_step": request.escalation_step,
        "ack_due_at": iso(request.ack_due_at),
        "overdue_at": iso(request.overdue_at),
        "response_due_at": iso(request.response_due_at),
        "response_paused_at": iso(request.response_paused_at),
        "response_breached_at": iso(request.response_breached_at),
    }


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
    response_clock = (
        insert(_deadlines)
        .from_select(["request_id", "kind", "step", "due_at"], union_all(*warnings, breach))
        .cte("response_clock")
    )
    return select(
        written.c.created_at,
        written.c.updated_at,
        written.c.assigned_at,
        written.c.assigned_agency_id,
        written.c.version,
        written.c.escalation_step,
        written.c.ack_due_at,
        written.c.response_due_at,
    ).add_cte(first_step, first_deadline, response_clock)


_SUBMIT = _submit_statement()


async def audit_request(
    session: AsyncSession,
    actor: Actor,
    action: str,
    request: CooperationRequest,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(request.id),
        countries=countries_of(request),
        content_hash=request.content_hash,
        details=details,
    )


# --- use cases ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submission:
    request: SubmittedRequest
    replayed: bool  # True: an Idempotency-Key retry, answered with the first answer


async def _replayed(session: AsyncSession, actor: Actor, body: dict[str, Any]) -> SubmittedRequest:
    """A stored answer as the API shows it now. One stored by an older relay247 lacks the
    fields added since (routing, versions, retention, deadlines...): those are the request's
    as it stands, what its migrations gave it."""
    missing = set(SubmittedRequest.model_fields) - set(body) - {"warnings"}
    if missing:
        request = await session.get(CooperationRequest, uuid.UUID(body["id"]))
        if request is not None:
            current = _fields(request, actor)
            body = {**{name: current[name] for name in missing if name in current}, **body}
    return SubmittedRequest.model_validate({"warnings": [], **body})


async def submit(
    session: AsyncSession, actor: Actor, draft: RequestCreate, *, idempotency_key: str | None
) -> Submission:
    """Check the sender's access agreements, write the request, and route it to the target
    desk's on-duty primary (or, with nobody on duty, to the whole desk)."""
    policy.require(actor, policy.Action.SUBMIT_REQUEST)
    if idempotency_key is not None:
        stored = await idempotency.claim(
            session,
            agency_id=actor.agency_id,
            key=idempotency_key,
            fingerprint=sha256_hex(draft.model_dump(mode="json")),
        )
        if stored is not None:
            return Submission(request=await _replayed(session, actor, stored.body), replayed=True)

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

    content = _content(draft)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "type": draft.type,
        "priority": draft.priority,
        "status": RequestStatus.SUBMITTED,
        "requesting_agency_id": actor.agency_id,
        "requesting_country": actor.country,
        "target_country": draft.target_country,
        "created_by": actor.principal_id,
        **content,
        "handling_code": draft.handling_code,
        "onward_use": list(draft.onward_use),
        "handling_note": draft.handling_note,
        "content_hash": sha256_hex(content),
        "assigned_to": assignee,
        "assignment": Assignment.ON_DUTY if assignee else Assignment.DESK,
        "retention_days": retention.retention_days(draft.type),
    }
    ack_timeout = deadline_rows.first_ack_timeout(context.escalation, draft.type, draft.priority)
    response_clock = deadline_rows.response_clock_offsets(
        deadline_rows.response_time(context.escalation, draft.type, draft.priority)
    )
    stamps = (
        await session.execute(_SUBMIT, values | {"ack_timeout": ack_timeout} | response_clock)
    ).one()
    # The row is written; this transient object (never added to the session) only carries
    # its values to the view, the audit entry and the event.
    request = CooperationRequest(
        **values,
        **stamps._asdict(),
        escalated_at=None,
        overdue_at=None,
        response_paused_at=None,
        response_breached_at=None,
    )
    deadline_rows.wake_if_near(session, min(ack_timeout, *response_clock.values()))

    view = SubmittedRequest.model_validate(
        {**_fields(request, actor), "warnings": routing.warnings(context.target, draft.type)}
    )
    if idempotency_key is not None:
        await idempotency.store(
            session,
            agency_id=actor.agency_id,
            key=idempotency_key,
            answer=idempotency.StoredAnswer(status_code=201, body=view.model_dump(mode="json")),
        )
    await audit_request(
        session,
        actor,
        "request.submitted",
        request,
        {
            "target_country": request.target_country,
            "type": request.type.value,
            "assigned_to": str(assignee) if assignee else None,
        },
    )
    # The whole desk (and the NCB and the global desk, who follow it) sees every arrival;
    # the assignee hears it on their own channel too.
    channels = [events.desk_channel(request.target_country)]
    if assignee is not None:
        channels.append(events.principal_channel(assignee))
    await events.publish(
        session,
        "request.assigned",
        channels=channels,
        request_id=request.id,
        data=event_data(request),
    )
    return Submission(request=view, replayed=False)


async def escalations(session: AsyncSession, request_id: uuid.UUID) -> list[EscalationOut]:
    """The request's moves along its escalation policy, from the audit trail the deadline
    worker writes with each one (app/services/deadlines/): one indexed query, the same facts
    as the trail."""
    a = AuditEntry
    rows = await session.execute(
        select(a.occurred_at, a.details)
        .where(
            a.object_type == OBJECT_TYPE,
            a.object_id == str(request_id),
            a.action == "request.escalated",
        )
        .order_by(a.id)
    )
    return [
        EscalationOut(
            step=details["to_step"],
            target=details["target"],
            at=occurred_at,
            assigned_to=details.get("assigned_to"),
        )
        for occurred_at, details in rows
    ]


async def get(session: AsyncSession, actor: Actor, request_id: uuid.UUID) -> RequestDetailOut:
    request = await find_visible(session, actor, request_id)
    if reads_content(actor, request):
        await audit_request(session, actor, "request.read", request)
    allowed = lifecycle.allowed_for(
        actor, request, side_of(actor, request), owner_of(request), datetime.now(UTC)
    )
    return RequestDetailOut.model_validate(
        {
            **_fields(request, actor),
            "escalations": await escalations(session, request.id),
            "allowed_actions": allowed,
        }
    )


# A socket's welcome lists at most this many unconfirmed requests, the newest: a desk with
# more has a backlog no screen would show anyway, and the full list is GET /v1/requests.
UNCONFIRMED_LIMIT = 100


async def unconfirmed(
    session: AsyncSession,
    actor: Actor,
    *,
    desks: list[str],
    own: bool,
    limit: int = UNCONFIRMED_LIMIT,
) -> list[UnconfirmedRequest]:
    """Requests still submitted that no screen has confirmed (no receipt, no ack): those sent
    to these desks (countries), and with ``own`` those assigned to the actor; newest first.
    What a dashboard that was offline when they were pushed has not seen."""
    if not desks and not own:
        return []
    r = CooperationRequest
    held: list[ColumnElement[bool]] = []
    if desks:
        held.append(r.target_country.in_(desks))
    if own:
        held.append(r.assigned_to == actor.principal_id)
    rows = await session.execute(
        select(
            r.id,
            r.type,
            r.priority,
            r.requesting_country,
            r.target_country,
            r.assigned_to,
            r.assigned_at,
        )
        .where(
            r.status == RequestStatus.SUBMITTED,
            r.delivered_at.is_(None),
            or_(*held),
            visible_to(actor),
        )
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(limit)
    )
    return [
        UnconfirmedRequest(
            request_id=row.id,
            type=row.type,
            priority=row.priority,
            requesting_country=row.requesting_country,
            target_country=row.target_country,
            assigned_to=row.assigned_to,
            assigned_at=row.assigned_at,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class RequestFilter:
    statuses: list[RequestStatus] = field(default_factory=list)
    types: list[RequestType] = field(default_factory=list)
    priorities: list[Priority] = field(default_factory=list)
    target_country: str | None = None
    requesting_country: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    attention: list[Attention] = field(default_factory=list)

    def clauses(self) -> list[ColumnElement[bool]]:
        r = CooperationRequest
        clauses: list[ColumnElement[bool]] = []
        if self.attention:
            clauses.append(or_(*self._needing_attention()))
        if self.statuses:
            clauses.append(r.status.in_(self.statuses))
        if self.types:
            clauses.append(r.type.in_(self.types))
        if self.priorities:
            clauses.append(r.priority.in_(self.priorities))
        if self.target_country:
            clauses.append(r.target_country == self.target_country)
        if self.requesting_country:
            clauses.append(r.requesting_country == self.requesting_country)
        if self.created_after:
            clauses.append(r.created_at >= self.created_after)
        if self.created_before:
            clauses.append(r.created_at < self.created_before)
        return clauses

    def _needing_attention(self) -> list[ColumnElement[bool]]:
        """Plain comparisons of the columns the deadline worker sets, one flat OR: nothing
        computed per row, so a partial index on the same predicate serves it as it is."""
        r = CooperationRequest
        conditions: list[ColumnElement[bool]] = []
        if Attention.ESCALATED in self.attention:
            conditions.append(r.escalation_step > 0)
        if Attention.OVERDUE in self.attention:
            conditions += [r.overdue_at.is_not(None), r.response_breached_at.is_not(None)]
        return conditions


async def list_requests(
    session: AsyncSession,
    actor: Actor,
    filters: RequestFilter,
    *,
    cursor: str | None,
    limit: int,
) -> RequestPage:
    r = CooperationRequest
    query = select(r).where(visible_to(actor), *filters.clauses())
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(r.created_at, r.id) < tuple_(after.created_at, after.id))
    rows = list(
        await session.scalars(query.order_by(r.created_at.desc(), r.id.desc()).limit(limit + 1))
    )
    page, more = rows[:limit], len(rows) > limit
    await audit.record_each(
        session,
        actor,
        "request.read",
        object_type=OBJECT_TYPE,
        entries=[
            audit.Entry(str(request.id), request.content_hash, countries=countries_of(request))
            for request in page
            if reads_content(actor, request)
        ],
    )
    next_cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
    return RequestPage(items=[_view(request, actor) for request in page], next_cursor=next_cursor)
