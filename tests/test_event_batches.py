"""events.batched: the events of a batch are written at its end, counters locked in one
order; a batch inside a batch is part of the outer one; a batch that raises writes nothing."""

from __future__ import annotations

import asyncpg
import pytest

from app.database import Database
from app.services import events


async def test_a_batch_inside_a_batch_is_written_with_the_outer_one(
    database: Database, db: asyncpg.Connection
) -> None:
    async with database.transaction() as session, events.batched(session):
        await events.publish(session, "outer.first", channels=["b", "a"], request_id=None, data={})
        await events.publish_each(session, "inner", [events.Publication(["c"], None, {"n": 1})])
        await events.publish(session, "outer.last", channels=["a"], request_id=None, data={})
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
        async with database.transaction() as session, events.batched(session):
            await events.publish(session, "lost", channels=["a"], request_id=None, data={})
            raise RuntimeError("the firing failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    assert await db.fetchval("SELECT count(*) FROM events") == 0
