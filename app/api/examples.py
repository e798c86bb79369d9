"""What the OpenAPI document says beyond the schemas: the API's introduction (info.description)
and worked examples of the main operations, for /docs, /redoc and a case system's developer.

Every example must validate against its operation's schema (tests/test_openapi_document.py)."""

from __future__ import annotations

from typing import Any

from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

DESCRIPTION = f"""relay247 carries cooperation requests between the national 24/7 contact points
of the cybercrime network (Budapest Convention Art. 35): a national unit submits a request to
another country's desk, the request reaches whoever is on duty there at once, both sides follow
it through its life, exchange messages and evidence files, and every step is written to a
tamper-evident audit trail.

**Authentication.** Every call carries `Authorization: Bearer r247_…`, a token of a principal
(a person, desk or system) with one role in one agency. Tokens are made by an admin
(`POST /v1/tokens`, or `relay247 tokens create`); the dashboard's session cookie works too,
with its CSRF header on changes. What a principal may see and do follows its role, country
and agency: an object it may not see answers 404, an action it may not take 403.

**Real time.** The WebSocket `/v1/ws` pushes what happens to the caller's requests as it
happens; a client that was away sends a `resume` frame with the offsets it had reached and
gets what it missed, then live events.

**Errors.** Every error is an RFC 9457 problem (`application/problem+json`): `type`
(`urn:relay247:problem:<kind>`), `title`, `status`, `detail`, and for invalid input (422)
`errors`, one `{{"field", "message"}}` per mistake. Nothing is half-written: a refused call
changed nothing. 503 comes with `Retry-After`; 429 (rate limit) too.

**Pagination.** Lists are newest or oldest first as each says, `limit` items a page (default
{DEFAULT_LIMIT}, at most {MAX_LIMIT}); an answer's `next_cursor`, passed back as `cursor`, gives
the next page, and is null on the last.

**Idempotency.** `POST /v1/requests` takes an `Idempotency-Key` header: a retry with the same
key and body gives the first answer again (header `Idempotent-Replayed: true`) instead of a
second request; the same key with another body is refused (422). Acknowledging is idempotent
by itself. Changes to a request can be made conditional with `If-Match` on its `ETag`
(its `version`)."""

_REQUEST_ID = "0b6f3c52-3a0e-4d8e-9c5e-1f2a7d9b4e10"
_AGENCY_FR = "5d1c2b7e-8f4a-4c3d-9e6b-2a1f0c9d8e7a"
_UNIT_OFFICER = "7e2d4f6a-1b3c-4d5e-8f9a-0b1c2d3e4f5a"
_DUTY_OFFICER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_AGENCY_DE = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"

PRESERVATION = {
    "type": "preservation",
    "priority": "urgent",
    "target_country": "DE",
    "headline": "Ransomware on a hospital: preserve the negotiation mailbox",
    "subject": "Preserve a mailbox used in a ransom negotiation",
    "details": "The mailbox below was used to negotiate a ransom after an attack on a hospital; "
    "please preserve its content and connection logs pending a mutual legal assistance request.",
    "identifiers": [
        {"kind": "email", "value": "negotiator@example.org"},
        {"kind": "ip", "value": "203.0.113.17"},
    ],
    "legal_basis": "Budapest Convention Art. 29",
    "handling_code": "AMBER",
    "onward_use": ["H1"],
}

EMERGENCY = {
    "type": "emergency_disclosure",
    "priority": "emergency",
    "target_country": "US",
    "headline": "School attack announced for tomorrow: who is behind the account",
    "subject": "Threat to life announced from an account",
    "details": "An account announced an attack on a school for tomorrow morning; we need the "
    "subscriber information and the last login addresses.",
    "identifiers": [{"kind": "account", "value": "example-platform:user/83921"}],
    "legal_basis": "Second Additional Protocol Art. 9",
    "handling_code": "RED",
}

SUBMIT_EXAMPLES: dict[str, Any] = {
    "preservation": {
        "summary": "Preservation of stored data (urgent, AMBER, H1)",
        "value": PRESERVATION,
    },
    "emergency": {
        "summary": "Emergency disclosure (threat to life, RED)",
        "value": EMERGENCY,
    },
}

_REQUEST: dict[str, Any] = {
    "id": _REQUEST_ID,
    "type": "preservation",
    "priority": "urgent",
    "status": "submitted",
    "drill_id": None,
    "requesting_agency_id": _AGENCY_FR,
    "requesting_country": "FR",
    "target_country": "DE",
    "headline": PRESERVATION["headline"],
    "handling_code": "AMBER",
    "onward_use": ["H1"],
    "handling_note": None,
    "content_hash": "4f1c9a0e6b2d8c7f3e5a1b9d0c2e4f6a8b0d1c3e5f7a9b2d4c6e8f0a1b3c5d7e",
    "version": 1,
    "created_at": "2026-03-14T02:17:05.412Z",
    "updated_at": "2026-03-14T02:17:05.412Z",
    "acknowledged_at": None,
    "acknowledged_by": None,
    "delivered_at": None,
    "delivered_by": None,
    "responded_at": None,
    "assigned_to": _DUTY_OFFICER,
    "assignment": "on_duty",
    "assigned_at": "2026-03-14T02:17:05.412Z",
    "escalation_step": 0,
    "escalated_to": None,
    "escalated_at": None,
    "ack_due_at": "2026-03-14T02:32:05.412Z",
    "overdue_at": None,
    "response_due_at": "2026-03-15T02:17:05.412Z",
    "response_paused_at": None,
    "response_breached_at": None,
    "closed_at": None,
    "retention_days": 365,
    "retain_until": None,
    "legal_hold": None,
    "purged_at": None,
    "content": {
        "subject": PRESERVATION["subject"],
        "details": PRESERVATION["details"],
        "identifiers": PRESERVATION["identifiers"],
        "legal_basis": PRESERVATION["legal_basis"],
    },
}

SUBMITTED = {**_REQUEST, "warnings": []}

_ACKNOWLEDGED = {
    **_REQUEST,
    "status": "acknowledged",
    "version": 2,
    "updated_at": "2026-03-14T02:19:41.090Z",
    "acknowledged_at": "2026-03-14T02:19:41.090Z",
    "acknowledged_by": _DUTY_OFFICER,
}

DETAIL = {
    **_ACKNOWLEDGED,
    "escalations": [],
    "allowed_actions": ["start", "decline"],
    "requester": {
        "agency_id": _AGENCY_FR,
        "agency_name": "OFAC",
        "country": "FR",
        "country_name": "France",
        "desk_phone": "+33 1 40 97 00 00",
        "sender": {
            "id": _UNIT_OFFICER,
            "role": "unit",
            "agency_id": _AGENCY_FR,
            "agency_name": "OFAC",
            "agency_kind": "unit",
            "country": "FR",
            "name": None,
            "phone": None,
        },
    },
    "may_assign": True,
    "may_take_part": True,
}

PAGE = {"items": [_ACKNOWLEDGED], "next_cursor": "eyJhdCI6IjIwMjYtMDMtMTRUMDI6MTc6MDUifQ"}

ACK = {
    "request_id": _REQUEST_ID,
    "status": "acknowledged",
    "acknowledged_at": "2026-03-14T02:19:41.090Z",
    "acknowledged_by": _DUTY_OFFICER,
    "already_acknowledged": False,
}

MESSAGE_IN = {
    "text": "Preserved on our side at 02:40 UTC; the provider confirms 90 days of logs.",
    "source_reliability": "B",
    "information_accuracy": 2,
}

MESSAGE_EXAMPLES: dict[str, Any] = {
    "answer": {"summary": "A message with its evaluation codes", "value": MESSAGE_IN},
    "stricter": {
        "summary": "A message stricter than its request (RED)",
        "value": {"text": "The suspect's name is in the attached file.", "handling_code": "RED"},
    },
}

MESSAGE = {
    "id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "request_id": _REQUEST_ID,
    "seq": 1,
    "side": "target",
    "author_principal_id": _DUTY_OFFICER,
    "author_agency_id": _AGENCY_DE,
    "author": {
        "id": _DUTY_OFFICER,
        "role": "contact_point",
        "agency_id": _AGENCY_DE,
        "agency_name": "BKA",
        "agency_kind": "unit",
        "country": "DE",
        "name": "Insp. Anna Weber",
        "phone": "+49 611 55-0",
    },
    "created_at": "2026-03-14T02:41:12.003Z",
    "handling_code": "AMBER",
    "onward_use": ["H1"],
    "handling_note": None,
    "source_reliability": "B",
    "information_accuracy": 2,
    "text_hash": "9e107d9d372bb6826bd81d3542a419d6e277d4d731479571562b82f74494341f",
    "text": MESSAGE_IN["text"],
    "withheld": None,
}

MESSAGE_PAGE = {"items": [MESSAGE], "next_cursor": None}

FILE = {
    "id": "e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a8b",
    "request_id": _REQUEST_ID,
    "message_id": None,
    "name": "mailbox-headers.pdf",
    "content_type": "application/pdf",
    "declared_type": "application/pdf",
    "size": 48213,
    "sha256": "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
    "handling_code": "AMBER",
    "onward_use": ["H1"],
    "handling_note": None,
    "side": "requester",
    "uploaded_by": _UNIT_OFFICER,
    "agency_id": _AGENCY_FR,
    "created_at": "2026-03-14T02:18:30.000Z",
    "shared_from": None,
    "purged_at": None,
}

FILE_PAGE = {"items": [FILE], "next_cursor": None}


# (path, method): the success status and its example, and the body's named examples.
_OPERATIONS: dict[tuple[str, str], tuple[str, Any, dict[str, Any] | None]] = {
    ("/v1/requests", "post"): ("201", SUBMITTED, SUBMIT_EXAMPLES),
    ("/v1/requests", "get"): ("200", PAGE, None),
    ("/v1/requests/{request_id}", "get"): ("200", DETAIL, None),
    ("/v1/requests/{request_id}/ack", "post"): ("200", ACK, None),
    ("/v1/requests/{request_id}/messages", "post"): ("201", MESSAGE, MESSAGE_EXAMPLES),
    ("/v1/requests/{request_id}/messages", "get"): ("200", MESSAGE_PAGE, None),
    ("/v1/requests/{request_id}/files", "post"): ("201", FILE, None),
    ("/v1/requests/{request_id}/files", "get"): ("200", FILE_PAGE, None),
}


def add_to(document: dict[str, Any]) -> None:
    """Put the examples into the generated document. Not with the routes' ``responses=`` and
    ``Body(openapi_examples=)``: FastAPI drops every null from the document it generates, and
    an answer without its required nullable fields would contradict its own schema."""
    for (path, method), (status, answer, bodies) in _OPERATIONS.items():
        operation = document["paths"][path][method]
        operation["responses"][status]["content"]["application/json"]["example"] = answer
        if bodies is not None:
            operation["requestBody"]["content"]["application/json"]["examples"] = bodies
