"""The filtered list of requests (GET /v1/requests): everything the actor may see, newest
first, keyset-paged by (created_at, id), narrowed by filters and a search of the headline.

Each filter is a plain comparison of one column, so the scope's index (by target desk, by
sender, by holder; migration 0016) yields rows already in order and Postgres stops after a
page. ``q`` is a case-insensitive substring of the headline, read from those rows: the
headline is metadata (app/requests/schemas.py), so searching it reads no content; a UUID is
taken as a request's id instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.pagination import Cursor
from app.identity.auth import Actor
from app.models import CooperationRequest
from app.models.enums import Attention, Priority, RequestStatus, RequestType
from app.requests.access import OBJECT_TYPE, countries_of, reads_content, visible_to
from app.requests.schemas import RequestPage
from app.requests.views import view

# The longest ``q`` taken: a headline is at most 120 characters, and a UUID 36.
QUERY_MAX = 120


def _like_pattern(text: str) -> str:
    """``text`` anywhere, literally: LIKE's wildcards and its escape character escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _as_request_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


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
    # Only those held by this principal (the caller's own id: "assigned to me").
    assigned_to: uuid.UUID | None = None
    # A substring of the headline, or a request's id (the API caps and checks it).
    query: str | None = None

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
        if self.assigned_to is not None:
            clauses.append(r.assigned_to == self.assigned_to)
        if self.query:
            request_id = _as_request_id(self.query)
            clauses.append(
                r.id == request_id
                if request_id is not None
                else r.headline.ilike(_like_pattern(self.query), escape="\\")
            )
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
    with_content: bool = True,
) -> RequestPage:
    """A page of the requests the actor may see. With their content (each read audited), or
    with ``with_content=False`` metadata only, which reads and audits nothing."""
    r = CooperationRequest
    query = select(r).where(visible_to(actor), *filters.clauses())
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(r.created_at, r.id) < tuple_(after.created_at, after.id))
    rows = list(
        await session.scalars(query.order_by(r.created_at.desc(), r.id.desc()).limit(limit + 1))
    )
    page, more = rows[:limit], len(rows) > limit
    if with_content:
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
    return RequestPage(
        items=[view(request, actor, with_content=with_content) for request in page],
        next_cursor=next_cursor,
    )
