"""Which audit entries an auditor asked for, and may see: the one filter of the entries list
(GET /v1/audit/entries) and of exports (GET /v1/audit/export, ``relay247 audit export``).

An entry belongs to every country it concerns (its ``countries``, written by
:func:`app.audit.record`): a network-wide auditor sees every entry, a national
auditor those concerning its own country, whoever acted. The command line reads as the
network (no actor)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, text

from app.identity import policy
from app.identity.auth import Actor
from app.models import AuditEntry
from app.requests.access import OBJECT_TYPE as REQUEST

# What an auditor's own reads (lists, exports) are recorded against.
OBJECT_TYPE = "audit"

# Entries that name a request without being about it as an object (a message, a file) say so
# in their details. Written out, not built with details["request_id"]: that binds the key as a
# parameter, and the partial index of migration 0011 matches only this literal form.
_NAMES_REQUEST = text(
    "audit_entries.details ? 'request_id' AND audit_entries.details ->> 'request_id' = :named"
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    since: datetime | None = None  # entries that occurred at or after
    until: datetime | None = None  # before
    country: str | None = None  # concerning this country
    agency_id: uuid.UUID | None = None  # done by a principal of this agency
    principal_id: uuid.UUID | None = None  # done by this principal
    request_id: uuid.UUID | None = None  # about this request, its messages and files
    action: str | None = None  # e.g. "request.read"

    def described(self) -> dict[str, Any]:
        """The filters given, as an audit entry's details record what an auditor asked for."""
        given = {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "country": self.country,
            "agency_id": str(self.agency_id) if self.agency_id else None,
            "principal_id": str(self.principal_id) if self.principal_id else None,
            "request_id": str(self.request_id) if self.request_id else None,
            "action": self.action,
        }
        return {name: value for name, value in given.items() if value is not None}

    @classmethod
    def from_described(cls, given: Mapping[str, Any]) -> AuditFilter:
        """The filters :meth:`described` gave (an export's signed header): ValueError unless
        ``given`` is exactly what it writes, so a header reads one way only."""
        try:
            filters = cls(
                since=_instant(given.get("since")),
                until=_instant(given.get("until")),
                country=given.get("country"),
                agency_id=_uuid(given.get("agency_id")),
                principal_id=_uuid(given.get("principal_id")),
                request_id=_uuid(given.get("request_id")),
                action=given.get("action"),
            )
        except (TypeError, ValueError, AttributeError):
            raise ValueError("not the filters of an export") from None
        if filters.described() != dict(given):
            raise ValueError("not the filters of an export")
        return filters

    def refused_by(self, entry: Mapping[str, Any]) -> str | None:
        """The first filter an entry does not match (``"country=FR"``), None when it matches
        them all; ``entry`` as its canonical document (what an export holds whole).

        The same rule as :func:`conditions` in SQL, member by member (an offline verifier
        checks an export's entries with it; tests/test_audit_export_tampering.py compares the
        two over real entries): a format 1 entry has no countries (NULL in the table), so no
        country matches it; ``occurred_at`` at or after ``since`` and before ``until``; the
        request filter's second half is ``details ? 'request_id' AND details ->> 'request_id'
        = R``, which only a string member can equal. A national auditor's limit is no
        condition of its own here: :func:`authorize` names its country in the filters."""
        if self.since is not None or self.until is not None:
            occurred = _occurred_at(entry.get("occurred_at"))
            if self.since is not None and not (occurred is not None and occurred >= self.since):
                return f"since={self.since.isoformat()}"
            if self.until is not None and not (occurred is not None and occurred < self.until):
                return f"until={self.until.isoformat()}"
        if self.country is not None:
            countries = entry.get("countries")
            if not (isinstance(countries, list) and self.country in countries):
                return f"country={self.country}"
        for name, wanted in (
            ("agency_id", self.agency_id),
            ("principal_id", self.principal_id),
        ):
            if wanted is not None and entry.get(f"actor_{name}") != str(wanted):
                return f"{name}={wanted}"
        if self.action is not None and entry.get("action") != self.action:
            return f"action={self.action}"
        if self.request_id is not None:
            wanted_id = str(self.request_id)
            details = entry.get("details")
            named = details.get("request_id") if isinstance(details, dict) else None
            about = entry.get("object_type") == REQUEST and entry.get("object_id") == wanted_id
            if not (about or named == wanted_id):
                return f"request_id={wanted_id}"
        return None

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return self.refused_by(entry) is None


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        raise ValueError("a time without an offset")
    return moment


def _uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def _occurred_at(value: Any) -> datetime | None:
    """An entry's ``occurred_at`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), None if it is not one."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.utcoffset() is not None else None


def authorize(actor: Actor | None, filters: AuditFilter) -> AuditFilter:
    """The filters as they apply to this caller: 403 for one who may not read the trail at
    all, or who asks for another country than its own (a national auditor learns nothing by
    asking, not even an empty list); a national auditor who names no country gets its own
    named, so what an export's header and the read's audit entry say is what was read."""
    if actor is None:
        return filters
    owner = policy.Owner(country=filters.country) if filters.country else None
    policy.require(actor, policy.Action.READ_AUDIT, owner)
    if filters.country is None and policy.Scope.ANY not in policy.scopes(
        actor, policy.Action.READ_AUDIT
    ):
        return dataclasses.replace(filters, country=actor.home_country)
    return filters


def conditions(actor: Actor | None, filters: AuditFilter) -> list[ColumnElement[bool]]:
    """The SQL conditions of the filters and of what the actor may see (call
    :func:`authorize` first)."""
    clauses: list[ColumnElement[bool]] = []
    if actor is not None:
        clauses.append(policy.where(actor, policy.Action.READ_AUDIT, AuditEntry))
    if filters.since is not None:
        clauses.append(AuditEntry.occurred_at >= filters.since)
    if filters.until is not None:
        clauses.append(AuditEntry.occurred_at < filters.until)
    if filters.country is not None:
        clauses.append(AuditEntry.countries.contains([filters.country]))
    if filters.agency_id is not None:
        clauses.append(AuditEntry.actor_agency_id == filters.agency_id)
    if filters.principal_id is not None:
        clauses.append(AuditEntry.actor_principal_id == filters.principal_id)
    if filters.action is not None:
        clauses.append(AuditEntry.action == filters.action)
    if filters.request_id is not None:
        wanted = str(filters.request_id)
        clauses.append(
            or_(
                and_(AuditEntry.object_type == REQUEST, AuditEntry.object_id == wanted),
                _NAMES_REQUEST.bindparams(named=wanted),
            )
        )
    return clauses
