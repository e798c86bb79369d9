"""The event log: how an event gets its offset, and how it is read back.

Each event row on a channel takes the next offset by updating the channel's counter row; the
row lock is held to commit, so offsets are gap-free and follow commit order, and a reader
that has seen offset N has seen everything before it. Publishing is the last write of a use
case, to hold that lock as briefly as possible. Which channels an event goes to is
app/realtime/audience.py's. What else an event sends (webhooks, alerts to people) is written
with it, in the same transaction, by app/outbox/fanout.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Uuid, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.database import wake_after_commit
from app.models import Channel
from app.outbox import fanout
from app.outbox.fanout import Fanned

# Take each channel's next offset, write the event and what it sends (app/outbox/fanout.py),
# all in one round trip. The counters are upserted in name order (ORDER BY feeds the INSERT
# row by row), so two transactions publishing on overlapping channels lock them in the same
# order and never wait in a cycle.
_APPEND = text(
    fanout.after(
        """
    WITH next_offsets AS (
        INSERT INTO channels (name, last_offset)
        SELECT name, 1 FROM unnest(:channels) AS name ORDER BY name
        ON CONFLICT (name) DO UPDATE SET last_offset = channels.last_offset + 1
        RETURNING name, last_offset
    ),
    appended AS (
        INSERT INTO events (channel, "offset", type, request_id, data)
        SELECT name, last_offset, :type, :request_id, :data FROM next_offsets
    ),
    published AS (
        SELECT 1 AS ord, CAST(:type AS varchar) AS type, CAST(:request_id AS uuid) AS request_id,
               CAST(:data AS jsonb) AS data, CAST(:heard AS varchar[]) AS channels
    ),
    """
    )
).bindparams(
    bindparam("channels", type_=ARRAY(String)),
    bindparam("heard", type_=ARRAY(String)),
    bindparam("type", type_=String),
    bindparam("request_id", type_=Uuid),
    bindparam("data", type_=JSONB),
    *fanout.PARAMETERS,
)


# Where publish() leaves its events while a session is in batched(): see there.
_DEFERRED = "relay247.deferred_events"


async def publish(
    session: AsyncSession,
    event_type: str,
    *,
    channels: Iterable[str],
    request_id: uuid.UUID | None,
    data: dict[str, Any],
) -> None:
    names = sorted(set(channels))
    if not names:
        return
    deferred: list[tuple[str, Publication]] | None = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.append((event_type, Publication(names, request_id, data)))
        return
    await _append(session, event_type, names, request_id, data)


async def _append(
    session: AsyncSession,
    event_type: str,
    names: list[str],
    request_id: uuid.UUID | None,
    data: dict[str, Any],
) -> None:
    event = Fanned.of_event(event_type, names, request_id, data)
    messages = await session.scalar(
        _APPEND,
        {
            "channels": names,
            "heard": fanout.heard_on(names),
            "type": event_type,
            "request_id": request_id,
            "data": data,
            **fanout.parameters([event]),
        },
    )
    for name in names:
        wake_after_commit(session, name)
    fanout.written(session, messages)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    channel: str
    offset: int
    type: str
    data: dict[str, Any]
    created_at: datetime


_READ_SINCE = text(
    """
    SELECT e.channel, e."offset", e.type, e.data, e.created_at
    FROM unnest(:channels, :afters) AS since(channel, after)
    CROSS JOIN LATERAL (
        SELECT * FROM events
        WHERE events.channel = since.channel AND events."offset" > since.after
        ORDER BY events."offset"
        LIMIT :per_channel
    ) AS e
    ORDER BY e.channel, e."offset"
    """
).bindparams(
    bindparam("channels", type_=ARRAY(String)),
    bindparam("afters", type_=ARRAY(BigInteger)),
)


async def read_since(
    connection: AsyncConnection, cursors: dict[str, int], *, per_channel: int
) -> list[StoredEvent]:
    """Events after each channel's cursor, in offset order, at most ``per_channel`` each."""
    if not cursors:
        return []
    rows = await connection.execute(
        _READ_SINCE,
        {
            "channels": list(cursors),
            "afters": list(cursors.values()),
            "per_channel": per_channel,
        },
    )
    return [StoredEvent(*row) for row in rows]


async def heads(connection: AsyncConnection, channels: Iterable[str]) -> dict[str, int]:
    """The last offset of each channel (0 for one that has had no event yet)."""
    names = list(channels)
    rows = await connection.execute(
        select(Channel.name, Channel.last_offset).where(Channel.name.in_(names))
    )
    found: dict[str, int] = {row.name: row.last_offset for row in rows}
    return {name: found.get(name, 0) for name in names}


@dataclass(frozen=True, slots=True)
class Publication:
    channels: list[str]
    request_id: uuid.UUID | None
    data: dict[str, Any]


# A batch's events in one statement: each channel's counter moves on by as many events as
# the batch has on it, and the events take the offsets in between, in publication order. The
# counters are upserted in name order, as _APPEND does, so batches and single publishes lock
# them in one order and never wait on each other in a cycle. The publications travel as
# parallel arrays: one row per (publication, channel) in ``ords``/``names``, and one element
# per publication in ``types``/``request_ids`` and the JSON array ``datas``.
_APPEND_BATCH = text(
    """
    WITH flat AS (
        SELECT ord, name FROM unnest(:ords, :names) AS f(ord, name)
    ),
    counts AS (
        SELECT name, count(*) AS n FROM flat GROUP BY name
    ),
    moved AS (
        INSERT INTO channels (name, last_offset)
        SELECT name, n FROM counts ORDER BY name
        ON CONFLICT (name) DO UPDATE SET last_offset = channels.last_offset + EXCLUDED.last_offset
        RETURNING name, last_offset
    ),
    numbered AS (
        SELECT flat.ord, flat.name,
               moved.last_offset - counts.n
                 + row_number() OVER (PARTITION BY flat.name ORDER BY flat.ord) AS "offset"
        FROM flat JOIN counts USING (name) JOIN moved USING (name)
    ),
    publications AS (
        SELECT p.ord::int AS ord, p.type, p.request_id, d.data
        FROM unnest(:types, :request_ids) WITH ORDINALITY AS p(type, request_id, ord)
        JOIN jsonb_array_elements(CAST(:datas AS jsonb)) WITH ORDINALITY AS d(data, ord)
          USING (ord)
    )
    INSERT INTO events (channel, "offset", type, request_id, data)
    SELECT numbered.name, numbered."offset", publications.type, publications.request_id,
           publications.data
    FROM numbered JOIN publications USING (ord)
    ORDER BY numbered.name, numbered."offset"
    """
).bindparams(
    bindparam("ords", type_=ARRAY(Integer)),
    bindparam("names", type_=ARRAY(String)),
    bindparam("types", type_=ARRAY(String)),
    bindparam("request_ids", type_=ARRAY(Uuid)),
    bindparam("datas", type_=JSONB),
)


async def _append_batch(session: AsyncSession, batch: list[tuple[str, Publication]]) -> None:
    ords = [ord_ for ord_, (_, p) in enumerate(batch, start=1) for _ in p.channels]
    names = [name for _, p in batch for name in p.channels]
    await session.execute(
        _APPEND_BATCH,
        {
            "ords": ords,
            "names": names,
            "types": [event_type for event_type, _ in batch],
            "request_ids": [p.request_id for _, p in batch],
            "datas": [p.data for _, p in batch],
        },
    )
    for name in set(names):
        wake_after_commit(session, name)
    await fanout.fan_out(
        session,
        [Fanned.of_event(t, p.channels, p.request_id, p.data) for t, p in batch],
    )


@asynccontextmanager
async def batched(session: AsyncSession) -> AsyncIterator[None]:
    """Several events of one transaction (a batch job's), written together in one statement
    when the block ends, their counters locked in the name order every publish() uses (one
    publish() after another would lock each event's counters in its own order, and two such
    transactions could wait on each other in a cycle: a deadlock). Nothing is written if the
    block raises."""
    if session.info.get(_DEFERRED) is not None:
        yield  # inside another batch: its end writes these too
        return
    deferred: list[tuple[str, Publication]] = []
    session.info[_DEFERRED] = deferred
    try:
        yield
    finally:
        session.info.pop(_DEFERRED, None)
    if deferred:
        await _append_batch(session, deferred)


async def publish_each(
    session: AsyncSession, event_type: str, publications: Iterable[Publication]
) -> None:
    """Several events of one type in one transaction: see batched()."""
    async with batched(session):
        for publication in publications:
            await publish(
                session,
                event_type,
                channels=publication.channels,
                request_id=publication.request_id,
                data=publication.data,
            )
