"""New store rows against open requests: :func:`on_new_objects`, the contract of whoever adds
rows to the store (intake of shares, triage's accepted copies), called in its transaction
after it has inserted the rows and their indicator_values.

The statement starts from the open requests' identifiers, not from the new rows' values:
indicator_values is keyed (kind, value, object_row_id) and has no index by row, and open
requests are few beside a store of millions. Each open identifier is one probe of that key,
bounded to the new rows' id range (a bundle's rows are numbered together), then checked
against the exact set. Its cost follows the open identifiers, not the bundle: a bundle of
10,000 rows costs what a bundle of one does.

A race: a request submitted while a bundle's transaction is open, committing after the
bundle's statement ran, in a transaction that started before the bundle committed, sees
neither side (each transaction sees the other's rows only once committed). The sweep
(:func:`sweep_recent`, app/matching/sweeper.py) closes it: it matches the requests submitted
lately against the whole store, once both sides have committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.matching.events import Told, tell_requesters
from app.models import (
    CooperationRequest,
    IndicatorValue,
    RequestIdentifier,
    RequestMatch,
    table_of,
)
from app.models.enums import CollectionKind
from app.requests.lifecycle import FINAL
from app.sharing.visibility import collections, member_reads, objects

_requests = table_of(CooperationRequest)
_identifiers = table_of(RequestIdentifier)
_indicators = table_of(IndicatorValue)
_matches = table_of(RequestMatch)


def _statement(*, recent_requests: bool) -> Any:
    """New store rows (``row_ids``, between ``lowest`` and ``highest``) against every open
    request; or, with ``recent_requests``, the open requests created since ``since`` against
    the whole store."""
    r, i = _requests.c, _indicators.c
    open_identifiers = (
        select(
            _identifiers.c.kind,
            _identifiers.c.value,
            _identifiers.c.request_id,
            r.requesting_agency_id,
            r.requesting_country,
        )
        .join_from(_requests, _identifiers, _identifiers.c.request_id == r.id)
        .where(r.status.not_in(FINAL), r.purged_at.is_(None))
    )
    if recent_requests:
        open_identifiers = open_identifiers.where(r.created_at >= bindparam("since"))
    open_cte = open_identifiers.cte("open_identifiers")
    oi = open_cte.c
    probe = and_(i.kind == oi.kind, i.value == oi.value)
    source: Any = open_cte.join(_indicators, probe)
    if not recent_requests:
        # The row set joined as a relation, not compared with "= ANY" in the probe, which
        # Postgres would make one index descent per element for every open identifier.
        new_rows = (
            select(func.unnest(bindparam("row_ids", type_=ARRAY(BigInteger))).label("row_id"))
            .distinct()
            .cte("new_rows")
        )
        source = open_cte.join(
            _indicators,
            and_(probe, i.object_row_id.between(bindparam("lowest"), bindparam("highest"))),
        ).join(new_rows, new_rows.c.row_id == i.object_row_id)
    visible = member_reads(oi.requesting_agency_id, oi.requesting_country)
    found = (
        pg_insert(_matches)
        .from_select(
            ["request_id", "object_row_id", "kind", "value", "notified_at"],
            select(oi.request_id, i.object_row_id, i.kind, i.value, case((visible, func.now())))
            .select_from(
                source.join(objects, objects.c.row_id == i.object_row_id).join(
                    collections, collections.c.id == objects.c.collection_id
                )
            )
            .where(objects.c.purged_at.is_(None), collections.c.kind != CollectionKind.INBOX),
        )
        .on_conflict_do_nothing()
        .returning(_matches.c.request_id, _matches.c.notified_at)
        .cte("found")
    )
    return (
        select(
            found.c.request_id,
            r.requesting_agency_id,
            func.count().label("found"),
            func.count(found.c.notified_at).label("seen"),
        )
        .join_from(found, _requests, r.id == found.c.request_id)
        .group_by(found.c.request_id, r.requesting_agency_id)
        .order_by(found.c.request_id)
    )


_FOUND = _statement(recent_requests=False)
_SWEPT = _statement(recent_requests=True)


async def on_new_objects(session: AsyncSession, row_ids: Sequence[int]) -> int:
    """Match the store rows ``row_ids`` (inserted in this transaction with their
    indicator_values) against every open request's identifiers; tell each requester of the
    new matches it may see. Returns how many matches were found."""
    if not row_ids:
        return 0
    rows = (
        await session.execute(
            _FOUND,
            {"row_ids": list(row_ids), "lowest": min(row_ids), "highest": max(row_ids)},
        )
    ).all()
    return await _tell(session, rows)


async def sweep_recent(session: AsyncSession, since: datetime) -> int:
    """Match the open requests created since ``since`` against the whole store (what a race
    with a bundle let pass; pairs already matched are left as they are); tell each requester
    of the new matches it may see. Returns how many matches were found."""
    return await _tell(session, (await session.execute(_SWEPT, {"since": since})).all())


async def _tell(session: AsyncSession, rows: Sequence[Any]) -> int:
    await tell_requesters(
        session, [Told(row.request_id, row.requesting_agency_id, row.seen) for row in rows]
    )
    return sum(row.found for row in rows)
