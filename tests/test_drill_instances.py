"""Drills across real instances (`relay247 serve` processes on one database): drills due at
once, both instances woken by the same NOTIFY, are each sent once; after one instance is
killed with SIGKILL, the survivor sends the drills that fall due. Time is driven by the test
(tests/drills.py), and the survivor is woken as a scheduling would wake it."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from app.models.enums import Role
from tests.clients import http
from tests.conftest import free_port
from tests.drills import bring_due, scheduled
from tests.factories import World
from tests.processes import environment, serving
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def sent_count(db: asyncpg.Connection, ids: list[str]) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM requests WHERE drill_id = ANY($1)", [uuid.UUID(i) for i in ids]
    )
    return count


async def test_two_instances_send_each_drill_once_and_a_survivor_takes_over(
    world: World, database_url: str, db: asyncpg.Connection
) -> None:
    env = environment(DATABASE_URL=database_url)
    started: list[asyncio.subprocess.Process] = []
    async with (
        serving(free_port(), env, started=started) as doomed,
        serving(free_port(), env) as survivor,
    ):
        async with http(doomed) as client:
            racing = await scheduled(client, world.gs, "DE", "FR", "JP")
            racing += await scheduled(client, world.gs, "DE", "FR", "JP")
            racing += await scheduled(client, world("DE", Role.NCB), "DE")
        async with http(survivor) as client:
            later = await scheduled(client, world.gs, "DE", "FR", "JP")

        await bring_due(db, *racing)

        async def all_sent(ids: list[str] = racing) -> bool:
            return await sent_count(db, ids) == len(ids)

        await eventually(all_sent)

        started[0].kill()
        await started[0].wait()
        await bring_due(db, *later)

        async def survivor_sent() -> bool:
            return await sent_count(db, later) == len(later)

        await eventually(survivor_sent)
    every = racing + later
    per_drill = await db.fetch(
        "SELECT d.id, count(e.id) AS arrivals FROM drills d "
        "JOIN requests r ON r.drill_id = d.id "
        "JOIN events e ON e.request_id = r.id AND e.type = 'request.assigned' "
        "AND e.channel LIKE 'desk:%' GROUP BY d.id"
    )
    assert {str(row["id"]): row["arrivals"] for row in per_drill} == dict.fromkeys(every, 1)
