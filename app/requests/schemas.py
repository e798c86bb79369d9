from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from app.core.primitives import CountryCode, Text
from app.directory.person_refs import PersonRef
from app.models.enums import (
    Assignment,
    EscalationTarget,
    HandlingCode,
    IdentifierKind,
    OnwardUse,
    Priority,
    RequestAction,
    RequestStatus,
    RequestType,
    Role,
    Side,
)

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HEX_DIGEST = re.compile(r"^([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$", re.I)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.I)
_PHONE = re.compile(r"^\+?[0-9 ().-]{4,32}$")

# Said once for the submission and the request as read back.
_TYPE = "What is asked: preserve data, disclose traffic or subscriber data, an emergency..."
_PRIORITY = "emergency (threat to life), urgent or routine: sets the response clocks"
_HANDLING_CODE = "TLP 2.0 code: who may read the content (CLEAR, GREEN, AMBER, AMBER+STRICT, RED)"
_ONWARD_USE = "Restrictions on onward use (H0-H3)"
_HANDLING_NOTE = "The restriction H3 stands for, in words (required with H3)"
_SUBJECT = "A one-line summary, shown in lists and notifications to who may read the content"
_DETAILS = "What happened and what is asked, in full"
_IDENTIFIERS = "The selectors the request is about (addresses, accounts, hashes...)"
_LEGAL_BASIS = "The provision the request rests on"
HEADLINE_MAX = 120
_HEADLINE = (
    "What the request is about, in one line (at most 120 characters), shown in the target "
    "desk's queue and in every list of requests. NOT protected as content: everyone who may "
    "see the request's metadata reads it (the target desk, both countries' NCBs and auditors, "
    "the global desk), it is not covered by the handling code, not purged with the content, "
    "and seeing it is no audited read. So no names and no identifiers of persons (no "
    "accounts, addresses, numbers): e.g. 'Ransomware on a hospital, preserve VPN logs'"
)
# A line: no line breaks, tabs or other control characters (C0, DEL, C1).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "headline_not_one_line",
            "must be one line of text: no line breaks, tabs or other control characters",
        )
    return value


Headline = Annotated[
    Annotated[str, Text(min_length=1, max_length=HEADLINE_MAX), AfterValidator(_one_line)] | None,
    Field(description=_HEADLINE, examples=["Ransomware on a hospital, preserve VPN logs"]),
]


_DRILL = (
    "The readiness drill this request is (GET /v1/drills/{id}); null: a real request. A "
    "drill is acknowledged like any request, and counts in no statistics"
)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Identifier(_Input):
    """A typed selector the request is about: an IP address, a domain, an account..."""

    kind: IdentifierKind = Field(description="What the value is; it must be one of these")
    value: Annotated[
        str,
        Text(min_length=1, max_length=2048),
        Field(description="The selector, checked against its kind: 203.0.113.17, x@example.org"),
    ]

    @model_validator(mode="after")
    def _value_fits_kind(self) -> Self:
        problem = _identifier_problem(self.kind, self.value)
        if problem:
            raise ValueError(f"{self.kind.value} identifier {self.value[:80]!r}: {problem}")
        return self


def _identifier_problem(kind: IdentifierKind, value: str) -> str | None:
    match kind:
        case IdentifierKind.IP:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                return "not an IPv4 or IPv6 address"
        case IdentifierKind.DOMAIN if not _DOMAIN.match(value):
            return "not a domain name"
        case IdentifierKind.URL if not _URL.match(value):
            return "not an absolute URL"
        case IdentifierKind.EMAIL if not _EMAIL.match(value):
            return "not an e-mail address"
        case IdentifierKind.HASH if not _HEX_DIGEST.match(value):
            return "not a hex MD5, SHA-1, SHA-256 or SHA-512 digest"
        case IdentifierKind.PHONE if not _PHONE.match(value):
            return "not a phone number"
    return None


class RequestCreate(_Input):
    """A cooperation request, as a national unit's case system submits it."""

    type: RequestType = Field(description=_TYPE)
    priority: Priority = Field(description=_PRIORITY)
    target_country: Annotated[
        CountryCode, Field(description="The country whose 24/7 desk is asked (ISO 3166-1)")
    ]
    headline: Headline = None
    subject: Annotated[str, Text(min_length=1, max_length=300), Field(description=_SUBJECT)]
    details: Annotated[str, Text(min_length=1, max_length=20_000), Field(description=_DETAILS)]
    identifiers: Annotated[list[Identifier], Field(max_length=100, description=_IDENTIFIERS)] = []
    legal_basis: Annotated[
        str,
        Text(min_length=1, max_length=500),
        Field(description=_LEGAL_BASIS, examples=["Budapest Convention Art. 29"]),
    ]
    handling_code: HandlingCode = Field(description=_HANDLING_CODE)
    onward_use: Annotated[list[OnwardUse], Field(max_length=4, description=_ONWARD_USE)] = []
    handling_note: Annotated[
        # Text on the string only: on ``str | None`` it would be handed a null, and fail (500).
        Annotated[str, Text(min_length=1, max_length=500)] | None,
        Field(description=_HANDLING_NOTE),
    ] = None

    @model_validator(mode="after")
    def _onward_use_once_each(self) -> Self:
        if len(set(self.onward_use)) != len(self.onward_use):
            raise ValueError("onward_use lists a restriction more than once")
        return self


class RequestContentOut(BaseModel):
    """What the request says: readable by who its handling code reaches."""

    subject: str = Field(description=_SUBJECT)
    details: str = Field(description=_DETAILS)
    identifiers: list[Identifier] = Field(description=_IDENTIFIERS)
    legal_basis: str = Field(description=_LEGAL_BASIS)


class LegalHoldOut(BaseModel):
    set_at: datetime = Field(description="When the hold was set")
    set_by: uuid.UUID = Field(description="The principal who set it")
    reason: str | None = Field(description="Why, as its setter wrote it")


class RequestOut(BaseModel):
    """A request as the caller may see it. ``content`` is null for auditors, who see metadata
    and the content hash only."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The request's id, in its URL: /v1/requests/{id}")
    type: RequestType = Field(description=_TYPE)
    priority: Priority = Field(description=_PRIORITY)
    status: RequestStatus = Field(description="Where it is in its life (see POST .../actions)")
    drill_id: uuid.UUID | None = Field(description=_DRILL)
    requesting_agency_id: uuid.UUID = Field(description="The agency that submitted it")
    requesting_country: str = Field(description="That agency's country (ISO 3166-1)")
    target_country: str = Field(description="The country whose desk is asked (ISO 3166-1)")
    headline: str | None = Field(description=_HEADLINE)
    handling_code: HandlingCode = Field(description=_HANDLING_CODE)
    onward_use: list[OnwardUse] = Field(description=_ONWARD_USE)
    handling_note: str | None = Field(description=_HANDLING_NOTE)
    content_hash: str = Field(
        description="SHA-256 (hex) of the content's canonical JSON: proves what was asked, "
        "also to who may not read it and after the purge"
    )
    version: int = Field(description="Bumped by every change; the ETag, for If-Match")
    created_at: datetime = Field(description="When it was submitted")
    updated_at: datetime = Field(description="When it last changed")
    acknowledged_at: datetime | None = Field(
        description="When a person of the target desk acknowledged it; null: not yet"
    )
    acknowledged_by: uuid.UUID | None = Field(description="Who acknowledged it")
    delivered_at: datetime | None = Field(
        description="When a person of the target country first confirmed it on screen"
    )
    delivered_by: uuid.UUID | None = Field(description="Whose screen first confirmed it")
    responded_at: datetime | None = Field(description="When it was first responded to")
    assigned_to: uuid.UUID | None = Field(
        description="The contact point holding it; null: the target desk as a whole and its NCB"
    )
    assignment: Assignment = Field(
        description="on_duty: the on-duty primary when it arrived; desk: nobody was on duty; "
        "reassigned: handed on by the desk; escalated: moved on by the escalation policy "
        "because nobody acknowledged in time"
    )
    assigned_at: datetime = Field(description="When it reached its current holder")
    escalation_step: int = Field(
        description="The step of the target's escalation policy that holds it (0: the first)"
    )
    escalated_to: EscalationTarget | None = Field(
        description="Whom the escalation step it is at reaches (on_duty_backup, ncb, "
        "global_desk, ...): with assigned_to null, the desk being chased now; null: never "
        "escalated"
    )
    escalated_at: datetime | None = Field(
        description="When it last moved on to a next step; null: never escalated"
    )
    ack_due_at: datetime | None = Field(
        description="Until when the current step has to acknowledge it before the next one "
        "is told (kept once acknowledged, to show whether that was in time)"
    )
    overdue_at: datetime | None = Field(
        description="When it passed the last step (the global desk) unacknowledged; the "
        "global desk is reminded until someone acts"
    )
    response_due_at: datetime | None = Field(
        description="Until when the target must respond (the legal response clock of the "
        "target's escalation policy, by type and priority); moved later by exactly the time "
        "the request waited on its requester. Null for requests older than the clocks"
    )
    response_paused_at: datetime | None = Field(
        description="Since when the response clock is paused: the request waits on its "
        "requester (info_requested); null while the clock runs"
    )
    response_breached_at: datetime | None = Field(
        description="When the response clock ran out before a response (request.breached "
        "was pushed); null: not breached"
    )
    closed_at: datetime | None = Field(
        description="When it became final (closed, declined, cancelled); null while open"
    )
    approved_at: datetime | None = Field(
        default=None,
        description="Four-eyes: when a second officer of the sending agency or its NCB "
        "approved it before it was sent; null: it needed no approval (docs/four-eyes.md)",
    )
    approved_by_role: Role | None = Field(
        default=None,
        description="The approving officer's role: unit (of the sending agency) or ncb",
    )
    retention_days: int = Field(
        description="Days its content is kept once final (by type, fixed at its creation)"
    )
    retain_until: datetime | None = Field(
        description="When its content is purged (closed_at + retention_days) unless held"
    )
    legal_hold: LegalHoldOut | None = Field(
        description="A legal hold keeps the content past retain_until until it is lifted"
    )
    purged_at: datetime | None = Field(
        description="When its content was purged; metadata, hashes and history remain"
    )
    content: RequestContentOut | None = Field(
        description="Null for who may not read it (by its handling code) and once purged"
    )


class EscalationOut(BaseModel):
    step: int = Field(
        description="The step of the escalation policy it moved on to (1: the second)"
    )
    target: EscalationTarget = Field(description="Who that step of the policy tells")
    at: datetime = Field(description="When nobody had acknowledged in time and it moved on")
    assigned_to: uuid.UUID | None = Field(
        description="Who it was handed to; null: the target desk as a whole (ncb, global_desk, "
        "or nobody on the roster's backup)"
    )


class RequesterOut(BaseModel):
    """Who sent a request and how to call them back, as far as the reader may know."""

    agency_id: uuid.UUID = Field(description="The sending agency")
    agency_name: str = Field(description="Its name")
    country: str = Field(description="Its country (ISO 3166-1)")
    country_name: str = Field(description="That country's name")
    desk_phone: str | None = Field(
        description="The sending country's 24/7 desk phone, for who may see desks' contacts "
        "(contact points, NCBs, the global desk); else null"
    )
    sender: PersonRef = Field(
        description="The principal that submitted it: by name and phone where you may see "
        "that person, else by role and agency"
    )


class RequestDetailOut(RequestOut):
    """One request, with what only its own page shows."""

    requester: RequesterOut = Field(
        description="Who sent it and how to call them back, as far as you may know"
    )
    may_assign: bool = Field(
        description="Whether you may hand the request to a contact point of its target desk "
        "now (POST .../assign): the target's contact points, its NCB and the global desk, "
        "while the request is open"
    )
    may_take_part: bool = Field(
        description="Whether you may add a message or a file now (POST .../messages, "
        ".../files): a side of the request, while it is open and not purged"
    )

    escalations: list[EscalationOut] = Field(
        description="Every time nobody acknowledged in time and it moved on to the next step "
        "of the target's escalation policy, oldest first; empty: never escalated. Only on "
        "GET /v1/requests/{id} (not in lists: it is read per request)"
    )
    allowed_actions: list[RequestAction] = Field(
        description="What the caller may do to the request now (POST .../actions/{action}); "
        "empty for who acts for neither side"
    )


class SubmittedRequest(RequestOut):
    """The answer to a submission: the request, and what the sender should know."""

    warnings: list[str] = Field(
        default_factory=list,
        description="How the target desk can handle this type of request, when the sender "
        "should know: e.g. that the target country executes it only through mutual legal "
        "assistance",
    )


class RequestPage(BaseModel):
    items: list[RequestOut] = Field(description="A page of requests, newest first")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class AssignmentCreate(_Input):
    principal_id: uuid.UUID = Field(description="An active contact point of the target country")


class AssignmentOut(BaseModel):
    request_id: uuid.UUID
    assigned_to: uuid.UUID | None
    assignment: Assignment
    assigned_at: datetime
    previously_assigned_to: uuid.UUID | None
    changed: bool = Field(description="False when it was assigned to that person already")


class AckOut(BaseModel):
    request_id: uuid.UUID = Field(description="The request acknowledged")
    status: RequestStatus = Field(description="Its status now")
    acknowledged_at: datetime = Field(description="When it was (first) acknowledged")
    acknowledged_by: uuid.UUID = Field(description="Who (first) acknowledged it")
    already_acknowledged: bool = Field(
        description="True when the request had been acknowledged before: nothing changed"
    )


class ReceiptOut(BaseModel):
    """The answer to a dashboard's `received` frame."""

    request_id: uuid.UUID
    status: RequestStatus
    delivered_at: datetime | None = Field(
        description="When the first receipt moved it to delivered; null when it was "
        "acknowledged (or declined, cancelled) before any screen confirmed it"
    )
    delivered_by: uuid.UUID | None
    already_received: bool = Field(
        description="True when the request was past submitted already: nothing changed"
    )


class UnconfirmedRequest(BaseModel):
    """A request in a socket's `welcome` that no screen has confirmed yet (metadata only)."""

    request_id: uuid.UUID
    type: RequestType
    priority: Priority
    requesting_country: str
    target_country: str
    headline: str | None = Field(description=_HEADLINE)
    assigned_to: uuid.UUID | None = Field(description="Null: the whole desk holds it")
    assigned_at: datetime
    drill_id: uuid.UUID | None = Field(default=None, description=_DRILL)


class ActionInput(_Input):
    reason: Annotated[
        Annotated[str, Text(min_length=1, max_length=2000)] | None,
        Field(
            description="Why: required to decline, cancel, ask for information and reopen; kept "
            "in the history, shown to who may read the request's content"
        ),
    ] = None


class ActionOut(BaseModel):
    """What an action did. Metadata only: the reason is read in the history."""

    request_id: uuid.UUID
    action: RequestAction
    from_status: RequestStatus
    status: RequestStatus
    version: int = Field(description="The request's new version (also the ETag)")
    at: datetime
    side: Side = Field(description="The side the caller acted for")
    allowed_actions: list[RequestAction] = Field(
        description="What the caller's side may do to the request now"
    )


class TransitionOut(BaseModel):
    id: int = Field(description="The transition's place in the history (ascending)")
    action: RequestAction | None = Field(description="Null for the submission")
    from_status: RequestStatus | None = Field(description="Null for the submission")
    to_status: RequestStatus
    side: Side | None
    actor_principal_id: uuid.UUID | None
    actor_agency_id: uuid.UUID | None
    actor: PersonRef | None = Field(
        description="Who took the step: by name where you may see that person, else by role, "
        "agency and country; null where the service did"
    )
    at: datetime
    has_reason: bool = Field(description="Whether a reason was given (even when not shown)")
    reason: str | None = Field(
        description="Null when none was given, for who may not read the request's content "
        "(by its handling code) and once the content was purged"
    )


class HistoryPage(BaseModel):
    items: list[TransitionOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
