"""The matches of a request a reader may see (GET /v1/requests/{id}/matches).

Both sides' rules: the request's content (its identifiers are content: READ_REQUEST_CONTENT
and stricter by its handling code, app/requests/handling.py; auditors read none) and each
object (app/sharing/visibility.py: its collection, its TLP code, not purged). A match whose
object the reader may not read is not shown and not counted. Every page shown is an audited
read (``match.shown``: the object rows shown and their count) in the same transaction; a page
showing none writes no entry, since nothing was shown (the request's own content read is
audited where it is read).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ForbiddenError
from app.core.pagination import CURSOR_INT_MAX, PositionCursor
from app.identity import policy
from app.identity.auth import Actor
from app.matching.schemas import IdentifierReports, MatchOut, MatchPage
from app.models import Agency, RequestMatch, table_of
from app.requests import access
from app.sharing.visibility import collections, matches_readable_by, objects

ACTION = "match.shown"
_matches = table_of(RequestMatch)
_agencies = table_of(Agency)
_sources = objects.alias("source")
_source_collections = collections.alias("source_collection")


def taxii_url(collection_id: uuid.UUID, stix_id: str) -> str:
    """The object in the TAXII 2.1 API (app/api/taxii.py's routes)."""
    return f"/taxii2/api/collections/{collection_id}/objects/{stix_id}/"


def _shown(actor: Actor, request_id: uuid.UUID) -> tuple[Any, ColumnElement[bool]]:
    m = _matches.c
    joined = _matches.join(objects, objects.c.row_id == m.object_row_id).join(
        collections, collections.c.id == objects.c.collection_id
    )
    return joined, and_(m.request_id == request_id, matches_readable_by(actor))


def _page(actor: Actor, request_id: uuid.UUID, after: int, limit: int) -> Select[Any]:
    joined, where = _shown(actor, request_id)
    m, o, c = _matches.c, objects.c, collections.c
    # Provenance: a gateway row's partner is its quarantined source's inbox owner; a share's
    # is its owner agency.
    provenance = func.coalesce(_source_collections.c.owner_agency_id, c.owner_agency_id)
    joined = (
        joined.outerjoin(_sources, _sources.c.row_id == o.source_row_id)
        .outerjoin(_source_collections, _source_collections.c.id == _sources.c.collection_id)
        .outerjoin(_agencies, _agencies.c.id == provenance)
    )
    return (
        select(
            m.kind,
            m.value,
            m.object_row_id,
            m.found_at,
            o.stix_id,
            o.type,
            o.handling_code,
            o.date_added,
            c.id.label("collection_id"),
            c.title.label("collection_title"),
            c.kind.label("collection_kind"),
            _agencies.c.name.label("provenance"),
        )
        .select_from(joined)
        .where(where, m.object_row_id > after)
        .order_by(m.object_row_id)
        .limit(limit + 1)
    )


def _reports(actor: Actor, request_id: uuid.UUID) -> Select[Any]:
    joined, where = _shown(actor, request_id)
    m = _matches.c
    return (
        select(
            m.kind,
            m.value,
            func.count(objects.c.stix_id.distinct()).label("reports"),
            func.count().label("matches"),
        )
        .select_from(joined)
        .where(where)
        .group_by(m.kind, m.value)
        .order_by(m.kind, m.value)
    )


async def matches_of(
    session: AsyncSession,
    actor: Actor,
    request_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> MatchPage:
    request = await access.find_visible(session, actor, request_id)
    if not access.reads_content(actor, request):
        raise ForbiddenError(
            "matches show the request's identifiers, its content: for who may read it"
        )
    policy.require(actor, policy.Action.READ_SHARED_DATA)
    after = PositionCursor.decode(cursor, request.id, largest=CURSOR_INT_MAX) if cursor else 0
    reports = (await session.execute(_reports(actor, request.id))).all()
    rows = (await session.execute(_page(actor, request.id, after, limit))).all()
    page, more = rows[:limit], len(rows) > limit
    items = [
        MatchOut(**row._asdict(), url=taxii_url(row.collection_id, row.stix_id)) for row in page
    ]
    if items:
        await audit.record(
            session,
            actor,
            ACTION,
            object_type=access.OBJECT_TYPE,
            object_id=str(request.id),
            countries=access.countries_of(request),
            content_hash=request.content_hash,
            details={
                "object_row_ids": [item.object_row_id for item in items],
                "count": len(items),
            },
        )
    return MatchPage(
        identifiers=[
            IdentifierReports(kind=row.kind, value=row.value, reports=row.reports)
            for row in reports
        ],
        total=sum(row.matches for row in reports),
        items=items,
        next_cursor=PositionCursor(request.id, page[-1].object_row_id).encode() if more else None,
    )
