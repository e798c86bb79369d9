"""The order objects were added in, as readers page through it: no reader may pass an object
that is not committed yet.

TAXII readers page by (date_added, row_id) and poll with ``added_after``; an object's
date_added is taken inside its writer's transaction, which may commit after a later-dated
one. A reader that saw the later object and moved past it would never see the earlier one:
lost, for a partner's feed or a country's poller. So each read stops short of the oldest
writer still open:

- a writer takes its lock on stix_objects (ROW EXCLUSIVE: it blocks no reader and no other
  writer) before it takes any date_added (:func:`lock_for_writing`; an INSERT takes it by
  itself before its defaults are computed);
- a reader first reads the horizon, the start of the oldest transaction holding or awaiting
  that lock (or the present when there is none), then, in its next statement (a newer
  snapshot, under READ COMMITTED), reads only objects added before it (:func:`horizon`).

An object dated before the horizon was written by a transaction that had ended by the time
the horizon was read (an open one would have set it lower), so the reader's later snapshot
holds it. The cost is freshness, never loss: an object shows once the writers older than it
have ended. Seeing other sessions' transaction starts takes the same database role (or
pg_read_all_stats), as relay247's own connections have.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_LOCK = text("LOCK TABLE stix_objects IN ROW EXCLUSIVE MODE")
_HORIZON = text(
    "SELECT coalesce(min(a.xact_start), clock_timestamp()) "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'relation' AND l.relation = 'stix_objects'::regclass "
    "AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
)


async def lock_for_writing(session: AsyncSession) -> None:
    await session.execute(_LOCK)


async def horizon(session: AsyncSession) -> datetime:
    """Objects added before this are all committed (or never will be): read them in a later
    statement."""
    found: datetime | None = await session.scalar(_HORIZON)
    assert found is not None
    return found
