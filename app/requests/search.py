"""The filtered list of requests (GET /v1/requests): everything the actor may see, newest
first, keyset-paged by (created_at, id), narrowed by filters and a search of the headline.

Each filter is a plain comparison of one column, so the scope's index (by target desk, by
sender, by holder; migration 0016) yields rows already in order and Postgres stops after a
page. ``q`` searches the headline, which is metadata (app/requests/schemas.py), so a search
reads no content: the headlines with words starting with each word of ``q``, in any case
("ransom hosp" finds "Ransomware on a hospital"), from a full-text index of the headline's
words (migration 0016); a UUID is taken as a request's id instead.

A search by words is planned in two steps, since Postgres cannot estimate how many
headlines a prefix matches. Walking the scope's index newest first and testing each
headline is quick when matches are many (a page fills soon) and slow when they are few (it
reads the whole scope: 440 ms at 100,000 requests); fetching the matches from the word
index and sorting them is the reverse. So a probe counts the matches, up to SPARSE + 1, from
the word index first, and the page is read the way that suits what it found.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

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
# The words of a ``q`` searched for (more narrow nothing a line of 120 characters holds).
QUERY_WORDS = 8
# Letters and digits: what Postgres' parser makes words of (its punctuation splits them).
_WORD = re.compile(r"[^\W_]+")
# Up to this many matches, a search's page is read by sorting the matches (a few ms); past it,
# by walking the newest first, where one row in 50 or more matches.
SPARSE = 2000


_CONTENT_COLUMNS = (
    CooperationRequest.subject,
    CooperationRequest.details,
    CooperationRequest.identifiers,
    CooperationRequest.legal_basis,
)


def headline_words() -> ColumnElement[str]:
    """The headline's words, as ix_requests_headline_words indexes them: the very same
    expression, or Postgres would not use the index."""
    return func.to_tsvector(literal_column("'simple'"), CooperationRequest.headline)


def _prefixes(text: str) -> str | None:
    """A tsquery of each word of ``text`` as a prefix, all required: ``'ransom':* &
    'hosp':*``. Only letters and digits go in, so nothing in it is tsquery syntax."""
    words = _WORD.findall(text.lower())[:QUERY_WORDS]
    return " & ".join(f"'{word}':*" for word in words) if words else None


def _headline_matches(text: str) -> ColumnElement[bool]:
    prefixes = _prefixes(text)
    if prefixes is None:
        # No word at all ("%", "--"): the literal text, anywhere in the headline; unindexed,
        # but no one searches for punctuation alone often.
        return CooperationRequest.headline.ilike(_like_pattern(text), escape="\\")
    return headline_words().op("@@")(func.to_tsquery(literal_column("'simple'"), prefixes))


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
    # Words of the headline, or a request's id (the API caps and checks it).
    query: str | None = None
    # Readiness drills (app/drills/): True only drills, False none, None both.
    drills: bool | None = None

    @property
    def searches_words(self) -> bool:
        """Whether ``query`` is looked up in the word index (not an id, not punctuation)."""
        return (
            self.query is not None
            and _as_request_id(self.query) is None
            and _prefixes(self.query) is not None
        )

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
        if self.requesting_country or self.drills is False:
            # A drill is nobody's request: a list of what a country sent never shows one.
            clauses.append(r.drill_id.is_(None))
        elif self.drills:
            clauses.append(r.drill_id.is_not(None))
        if self.created_after:
            clauses.append(r.created_at >= self.created_after)
        if self.created_before:
            clauses.append(r.created_at < self.created_before)
        if self.assigned_to is not None:
            clauses.append(r.assigned_to == self.assigned_to)
        if self.query:
            request_id = _as_request_id(self.query)
            clauses.append(
                r.id == request_id if request_id is not None else _headline_matches(self.query)
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


def statement(
    actor: Actor,
    filters: RequestFilter,
    *,
    cursor: str | None,
    limit: int,
    with_content: bool = True,
    sparse: bool = False,
) -> Select[CooperationRequest]:
    """The query of a page (and a row more, to know whether another page follows): the
    benchmark's floor runs it too (bench/request_search.py). Without content, the content's
    columns (up to 20 kB a request) are not even fetched. ``sparse``: few rows match (the
    probe said so), so sort them rather than walk an index in order."""
    r = CooperationRequest
    query = select(r).where(*_conditions(actor, filters, cursor))
    if not with_content:
        query = query.options(*(defer(column, raiseload=True) for column in _CONTENT_COLUMNS))
    # created_at + 0 orders the same, but no index can yield it: Postgres fetches the
    # matches from the word index and sorts them, instead of walking every row of the scope.
    newest = r.created_at + literal_column("interval '0'") if sparse else r.created_at
    return query.order_by(newest.desc(), r.id.desc()).limit(limit + 1)


def probe(actor: Actor, filters: RequestFilter, cursor: str | None) -> Select[int]:
    """How many rows the page's query matches, counted up to SPARSE + 1 (from the word
    index: no order asked, so no walk)."""
    matching: Select[Any] = select(literal_column("1")).where(*_conditions(actor, filters, cursor))
    return select(func.count()).select_from(matching.limit(SPARSE + 1).subquery())


def _conditions(
    actor: Actor, filters: RequestFilter, cursor: str | None
) -> list[ColumnElement[bool]]:
    r = CooperationRequest
    conditions = [visible_to(actor), *filters.clauses()]
    if cursor is not None:
        after = Cursor.decode(cursor)
        conditions.append(tuple_(r.created_at, r.id) < tuple_(after.created_at, after.id))
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
    sparse = filters.searches_words and (
        (await session.scalar(probe(actor, filters, cursor)) or 0) <= SPARSE
    )
    rows = list(
        await session.scalars(
            statement(
                actor,
                filters,
                cursor=cursor,
                limit=limit,
                with_content=with_content,
                sparse=sparse,
            )
        )
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
