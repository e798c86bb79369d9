"""The one statement that writes a submitted request: the request, the first step of its
history, its first deadlines and its identifiers' matches, in one round trip (intake.py binds
it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Uuid, bindparam, func, insert, literal, select, union_all
from sqlalchemy.types import Interval

from app.deadlines import rows as deadline_rows
from app.matching import submit as matching_submit
from app.models import (
    CooperationRequest,
    DeadlineKind,
    Principal,
    RequestDeadline,
    RequestTransition,
    table_of,
)
from app.models.enums import RequestStatus, Side

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
    # None but for a request a second officer approved (app/approvals/).
    "approved_at",
    "approved_by_role",
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


SUBMIT = _submit_statement()


def split(row: Any) -> tuple[dict[str, Any], int]:
    """The request's stamps, and how many matches its sender may see."""
    stamps = row._asdict()
    return stamps, stamps.pop("matches_seen")
