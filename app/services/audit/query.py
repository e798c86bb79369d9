"""Which audit entries an auditor asked for, and may see: the one filter of the entries list
(GET /v1/audit/entries) and of exports (GET /v1/audit/export, ``relay247 audit export``).

An entry belongs to every country it concerns (its ``countries``, written by
:func:`app.services.audit.record`): a network-wide auditor sees every entry, a national
auditor those concerning its own country, whoever acted. The command line reads as the
network (no actor)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, text

from app import policy
from app.models import AuditEntry
from app.services.auth import Actor
from app.services.requests import OBJECT_TYPE as REQUEST

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
        clauses.append(
            policy.where(actor, policy.Action.READ_AUDIT, countries=AuditEntry.countries)
        )
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
