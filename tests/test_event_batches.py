"""event_log.batched: the events of a batch are written at its end, counters locked in one
order; a batch inside a batch is part of the outer one; a batch that raises writes nothing."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from app.core.database import Database
from app.realtime import event_log


async def test_a_batch_inside_a_batch_is_written_with_the_outer_one(
    database: Database, db: asyncpg.Connection
) -> None:
    async with database.transaction() as session, event_log.batched(session):
        await event_log.publish(
            session, "outer.first", channels=["b", "a"], request_id=None, data={}
        )
        await event_log.publish_each(
            session, "inner", [event_log.Publication(["c"], None, {"n": 1})]
        )
        await event_log.publish(session, "outer.last", channels=["a"], request_id=None, data={})
        assert await db.fetchval("SELECT count(*) FROM events") == 0  # not yet: at the end
    rows = await db.fetch('SELECT channel, "offset", type FROM events ORDER BY channel, "offset"')
    assert [tuple(row) for row in rows] == [
        ("a", 1, "outer.first"),
        ("a", 2, "outer.last"),
        ("b", 1, "outer.first"),
        ("c", 1, "inner"),
    ]


async def test_a_batch_that_raises_writes_nothing(
    database: Database, db: asyncpg.Connection
) -> None:
    async def failing_batch() -> None:
        async with database.transaction() as session, event_log.batched(session):
            await event_log.publish(session, "lost", channels=["a"], request_id=None, data={})
            raise RuntimeError("the firing failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    assert await db.fetchval("SELECT count(*) FROM events") == 0


async def test_a_batch_continues_each_channel_after_its_last_offset(
    database: Database, db: asyncpg.Connection
) -> None:
    async with database.transaction() as session:
        await event_log.publish(session, "before", channels=["a"], request_id=None, data={})
    request_id = uuid.uuid4()
    async with database.transaction() as session, event_log.batched(session):
        for n in range(3):
            await event_log.publish(
                session, f"e{n}", channels=["a", "b"], request_id=request_id, data={"n": n}
            )
    rows = await db.fetch(
        'SELECT channel, "offset", type, request_id, data FROM events ORDER BY channel, "offset"'
    )
    assert [(r["channel"], r["offset"], r["type"]) for r in rows] == [
        ("a", 1, "before"),
        ("a", 2, "e0"),
        ("a", 3, "e1"),
        ("a", 4, "e2"),
        ("b", 1, "e0"),
        ("b", 2, "e1"),
        ("b", 3, "e2"),
    ]
    assert [json.loads(r["data"]) for r in rows[1:4]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert {r["request_id"] for r in rows[1:]} == {request_id}
    heads = await db.fetch("SELECT name, last_offset FROM channels ORDER BY name")
    assert [tuple(h) for h in heads] == [("a", 4), ("b", 3)]
