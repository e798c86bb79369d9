"""Delivery when things break: Postgres stopped under open sockets, the listener connection
killed, the REST pool exhausted, and two writers committing in the opposite order of the
one they started in. Each time: /readyz tells the truth, no socket is left deaf, no event is
skipped or repeated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database.urls import asyncpg_dsn
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer, running_server
from tests.factories import World
from tests.feeds import append_raw_events
from tests.outage import StoppablePostgres, stoppable_world
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def wait_until_ready(client: httpx.AsyncClient, *, ready: bool, within: float) -> str:
    """Poll /readyz until it says ``ready`` (200) or not (503); return its detail."""
    async with asyncio.timeout(within):
        while True:
            status, body = await readiness(client)
            if (status == 200) is ready:
                return str(body.get("detail", ""))
            await asyncio.sleep(0.2)


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[tuple[StoppablePostgres, World]]:
    async with stoppable_world(tmp_path / "outage") as postgres_and_world:
        yield postgres_and_world


async def test_postgres_stopped_under_open_sockets(
    outage: tuple[StoppablePostgres, World],
) -> None:
    postgres, world = outage
    async with running_server(postgres.url) as server, http(server.http) as client:
        desk = await Dashboard.open(server.ws, world.desk("DE"))
        requester = await Dashboard.open(server.ws, world.unit("FR"))
        before = [(await submit_request(client, world.unit("FR")))["id"] for _ in range(3)]
        first = [await desk.receive_event("request.assigned") for _ in before]
        assert await wait_until_ready(client, ready=True, within=10) == ""

        await postgres.stop()
        detail = await wait_until_ready(client, ready=False, within=10)
        assert "loop hub." in detail or "database" in detail
        # The socket stays useful: an ack is refused as retryable, nothing is changed.
        await desk.send({"type": "ack", "request_id": before[0]})
        refused = await desk.receive()
        assert (refused["type"], refused["status"]) == ("error", 503)
        await desk.send({"type": "received", "request_id": before[1]})
        refused = await desk.receive()
        assert (refused["type"], refused["status"]) == ("error", 503)
        await desk.send({"type": "ping"})
        assert await desk.receive() == {"type": "pong"}

        # The outage lasts until the listener has failed to reconnect twice (its backoff
        # grown): an outage that outlasts attempts to end it, not one a first retry ends.
        async def reconnections_failed() -> bool:
            return bool((await readiness(client))[1]["loops"]["hub.listen"]["restarts"] >= 3)

        await eventually(reconnections_failed)
        await postgres.start()

        await wait_until_ready(client, ready=True, within=20)
        # The same socket acknowledges and keeps receiving, from the next offset on.
        await desk.send({"type": "ack", "request_id": before[0]})
        assert (await desk.receive())["type"] == "ack_result"
        assert (await requester.receive_event("request.acknowledged"))["data"]["request_id"] == (
            before[0]
        )
        after = await submit_request(client, world.unit("FR"))
        acknowledged = await desk.receive_event("request.acknowledged")
        assigned = await desk.receive_event("request.assigned")
        assert assigned["data"]["request_id"] == after["id"]
        assert [acknowledged["offset"], assigned["offset"]] == [
            first[-1]["offset"] + 1,
            first[-1]["offset"] + 2,
        ]
        loops = (await readiness(client))[1]["loops"]
        assert loops["hub.listen"]["restarts"] >= 1
        await desk.close()
        await requester.close()


async def listener_pids(db: asyncpg.Connection) -> list[int]:
    rows = await db.fetch(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
    )
    return [row["pid"] for row in rows]


async def test_a_killed_listener_is_restarted_and_delivery_goes_on(
    world: World, database_url: str, db: asyncpg.Connection
) -> None:
    async with AsyncExitStack() as stack:
        writer = await stack.enter_async_context(running_server(database_url))
        reader = await stack.enter_async_context(running_server(database_url))
        desk = await Dashboard.open(reader.ws, world.desk("DE"))
        async with http(reader.http) as client:
            await wait_until_ready(client, ready=True, within=10)
        pids = await listener_pids(db)
        assert len(pids) == 2
        for pid in pids:
            await db.execute("SELECT pg_terminate_backend($1)", pid)

        async with http(writer.http) as client:
            created = await submit_request(client, world.unit("FR"))
        assigned = await desk.receive_event("request.assigned")
        assert assigned["data"]["request_id"] == created["id"]
        async with http(reader.http) as client:
            await wait_until_ready(client, ready=True, within=10)
            loops = (await readiness(client))[1]["loops"]
        assert loops["hub.listen"]["restarts"] >= 1
        assert set(await listener_pids(db)).isdisjoint(pids)  # new connections
        await desk.close()


async def test_an_exhausted_rest_pool_does_not_stop_delivery(
    server: RunningServer, world: World, database_url: str
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    start = desk.heads["desk:DE"]
    engine = server.app.state.database.engine
    held: list[AsyncConnection] = []
    try:
        for _ in range(engine.pool.size() + engine.pool._max_overflow):
            connection = await engine.connect()
            await connection.exec_driver_sql("SELECT 1")
            held.append(connection)
        # Events written by another instance still reach the socket: delivery reads through
        # a pool of its own.
        last = await append_raw_events(asyncpg_dsn(database_url), "desk:DE", 3)
        offsets = [(await desk.receive_event("request.updated"))["offset"] for _ in range(3)]
        assert offsets == list(range(start + 1, last + 1))
        async with http(server.http) as client:
            status, body = await readiness(client)
        assert status == 503
        assert "database" in body["detail"]
    finally:
        for connection in held:
            await connection.close()
    async with http(server.http) as client:
        await wait_until_ready(client, ready=True, within=10)
    await desk.close()


TAKE_OFFSET = (
    "INSERT INTO channels AS c (name, last_offset) VALUES ('desk:DE', 1) "
    "ON CONFLICT (name) DO UPDATE SET last_offset = c.last_offset + 1 RETURNING last_offset"
)
WRITE_EVENT = (
    "INSERT INTO events (channel, \"offset\", type, data) VALUES ('desk:DE', $1, $2, '{}')"
)
READ_AFTER = 'SELECT "offset" FROM events WHERE channel = \'desk:DE\' AND "offset" > $1 ORDER BY 1'


async def test_a_later_writer_cannot_commit_its_offset_before_an_earlier_one(
    server: RunningServer, world: World, database_url: str, db: asyncpg.Connection
) -> None:
    """The two commits race; a reader polls between them; it never skips an offset, because
    the writer that takes the next offset waits on the counter row until the first commits.
    So the higher offset can only ever commit last."""
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    start = desk.heads["desk:DE"]
    dsn = asyncpg_dsn(database_url)
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        first_tx, second_tx = first.transaction(), second.transaction()
        await first_tx.start()
        await second_tx.start()
        # The second writer starts its statement first but takes its offset second.
        offset = await first.fetchval(TAKE_OFFSET)
        assert offset == start + 1
        second_takes = asyncio.create_task(second.fetchval(TAKE_OFFSET))

        async def second_waits_on_a_lock() -> bool:
            waits = await db.fetchval(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                second.get_server_pid(),
            )
            return bool(waits == "Lock")

        await eventually(second_waits_on_a_lock)
        assert not second_takes.done(), "the counter row lock must hold the second writer"
        await first.execute(WRITE_EVENT, offset, "first")
        assert await db.fetch(READ_AFTER, start) == []  # a poll between: nothing visible yet
        await first_tx.commit()
        await db.execute("SELECT pg_notify('relay247_events', 'desk:DE')")
        second_offset = await asyncio.wait_for(second_takes, 5)
        assert second_offset == offset + 1
        assert [r[0] for r in await db.fetch(READ_AFTER, start)] == [offset]  # a poll between
        await second.execute(WRITE_EVENT, second_offset, "second")
        await second_tx.commit()
        await db.execute("SELECT pg_notify('relay247_events', 'desk:DE')")
    finally:
        await first.close()
        await second.close()
    received = [await desk.receive_event(name) for name in ("first", "second")]
    assert [event["offset"] for event in received] == [start + 1, start + 2]
    await desk.close()
