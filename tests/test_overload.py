"""Overload: past RELAY247_MAX_IN_FLIGHT, requests are refused at once with 503, probes and
scrapes still answer, and what was accepted is whole."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from app.core.settings import DatabaseSettings, OverloadSettings
from tests.clients import Dashboard, http
from tests.conftest import RunningServer
from tests.factories import World, request_body
from tests.scrape import scrape, value

LIMIT = 4
SENT = 30


async def test_requests_past_the_limit_are_shed_at_once_and_nothing_is_half_written(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    server.server.config.app.state.max_in_flight = LIMIT
    # Every submission inserts into `requests`: holding this lock keeps the first LIMIT
    # of them in flight for as long as the test needs, whatever the machine's speed.
    blocker = db.transaction()
    await blocker.start()
    await db.execute("LOCK TABLE requests IN EXCLUSIVE MODE")
    async with http(server.http) as client:
        posts = [
            asyncio.create_task(
                client.post("/v1/requests", json=request_body(), headers=world.unit("FR").headers)
            )
            for _ in range(SENT)
        ]
        try:
            answered_at_once: list[httpx.Response] = []
            for answer in asyncio.as_completed(posts, timeout=10):
                answered_at_once.append(await answer)
                if len(answered_at_once) == SENT - LIMIT:
                    break
            # Saturated as it is, the instance still answers probes, scrapes and sockets.
            assert (await client.get("/readyz")).status_code == 200
            saturated = await scrape(client)
            desk = await Dashboard.open(server.ws, world.desk("DE"))
            await desk.close()
        finally:
            await blocker.commit()
        responses = await asyncio.gather(*posts)
        after = await scrape(client)

    assert value(saturated, "relay247_http_requests_in_flight") == LIMIT
    assert [r.status_code for r in answered_at_once] == [503] * (SENT - LIMIT)
    for response in answered_at_once:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["Retry-After"] == "1"
        assert response.headers["X-Request-Id"]
        # A small body from a caller with a token came with its head: the connection is kept
        # for the retry (a new one per refusal made refusals 40 times slower under overload).
        assert response.headers.get("connection") != "close"
        problem = response.json()
        assert problem["type"] == "urn:relay247:problem:overloaded"
        assert "retry" in problem["detail"]
    accepted = [r for r in responses if r not in answered_at_once]
    assert [r.status_code for r in accepted] == [201] * LIMIT
    assert value(after, "relay247_http_requests_shed_total", reason="overload") == SENT - LIMIT
    assert value(after, "relay247_http_requests_in_flight") == 0
    stored = {str(row["id"]) for row in await db.fetch("SELECT id FROM requests")}
    assert stored == {r.json()["id"] for r in accepted}


def test_the_default_limit_follows_the_database_pool() -> None:
    assert OverloadSettings().in_flight_limit(DatabaseSettings()) == 40
    database = DatabaseSettings(pool_size=5, max_overflow=0)
    assert OverloadSettings().in_flight_limit(database) == 10
    assert OverloadSettings(max_in_flight=7).in_flight_limit(database) == 7
    # One principal never takes every slot: half of them, whatever the total.
    assert OverloadSettings().principal_limit(DatabaseSettings()) == 20
    assert OverloadSettings(max_in_flight=7).principal_limit(database) == 3
    assert OverloadSettings(max_in_flight_per_principal=32).principal_limit(database) == 32


async def test_probes_scrapes_and_sockets_are_never_shed(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    server.server.config.app.state.max_in_flight = 1
    async with http(server.http) as client:
        async with db.transaction():
            await db.execute("LOCK TABLE requests IN EXCLUSIVE MODE")
            held = asyncio.create_task(
                client.post("/v1/requests", json=request_body(), headers=world.unit("FR").headers)
            )
            async with asyncio.timeout(10):  # until the held submission has the only slot
                while value(await scrape(client), "relay247_http_requests_in_flight") < 1:
                    pass
            refused = await client.get("/v1/requests", headers=world.desk("DE").headers)
            probes = await asyncio.gather(
                *(
                    client.get(path)
                    for path in ("/healthz", "/readyz", "/metrics")
                    for _ in range(5)
                )
            )
            desk = await Dashboard.open(server.ws, world.desk("DE"))
            await desk.close()
        assert (await held).status_code == 201
    assert refused.status_code == 503
    assert {response.status_code for response in probes} == {200}
