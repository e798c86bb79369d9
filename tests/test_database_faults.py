"""When the database is down, restarting or out of connections, the API answers 503 with
Retry-After (never 500), and it serves again the moment the database is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc

from app.core.database import Database
from app.core.database.faults import is_unavailable
from app.core.settings import Settings
from app.main import create_app
from tests.clients import close_of, http
from tests.conftest import RunningServer, changed, running_server, serving_app
from tests.factories import World, make_world, request_body
from tests.outage import StoppablePostgres, stoppable_postgres


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert "database is unavailable" in response.json()["detail"]


async def every_route(client: httpx.AsyncClient, world: World) -> list[httpx.Response]:
    """One call of each REST operation that uses the database."""
    some_id = "0b9d1f06-4a57-4b5f-8d5e-1c2b3a4d5e6f"
    unit, desk = world.unit("FR").headers, world.desk("DE").headers
    return [
        await client.post("/v1/requests", json=request_body(), headers=unit),
        await client.get("/v1/requests", headers=desk),
        await client.get(f"/v1/requests/{some_id}", headers=desk),
        await client.post(f"/v1/requests/{some_id}/ack", headers=desk),
    ]


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[StoppablePostgres]:
    async with stoppable_postgres(tmp_path) as pg:
        yield pg


async def test_postgres_restart_and_outage(postgres: StoppablePostgres) -> None:
    database = Database(postgres.url, pool_size=1, max_overflow=0)
    try:
        world = await make_world(database, countries=("FR", "DE"))
    finally:
        await database.dispose()
    async with serving_app(create_app(postgres.url)) as server, http(server.http) as client:
        # Several pooled connections, then idle while the server restarts: every one is dead.
        for response in await every_route(client, world):
            assert response.status_code < 500, response.text
        await postgres.stop()
        await postgres.start()
        first = await client.post(
            "/v1/requests", json=request_body(), headers=world.unit("FR").headers
        )
        assert first.status_code == 201, first.text
        for response in await every_route(client, world):
            assert response.status_code < 500, response.text

        await postgres.stop()
        for response in [*await every_route(client, world), await client.get("/readyz")]:
            assert_unavailable(response)
        code, reason = await close_of(server.ws, headers=world.desk("DE").headers)
        assert (code, reason) == (1013, "database unavailable: reconnect soon")
        await postgres.start()
        first = await client.post(
            "/v1/requests", json=request_body(), headers=world.unit("FR").headers
        )
        assert first.status_code == 201, first.text


@pytest.fixture
async def tiny_pool_server(database_url: str, settings: Settings) -> AsyncIterator[RunningServer]:
    tiny = changed(settings, database={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2})
    async with running_server(database_url, tiny) as server:
        yield server


async def test_an_exhausted_pool_sheds_requests_with_503(
    tiny_pool_server: RunningServer, world: World
) -> None:
    database: Database = tiny_pool_server.server.config.app.state.database
    async with http(tiny_pool_server.http) as client:
        async with database.engine.connect() as held:
            await held.exec_driver_sql("SELECT 1")  # the pool's only connection is taken
            # Answered after RELAY247_POOL_TIMEOUT, well within the client's 10 s patience
            # (SQLAlchemy's own default would wait 30 s).
            assert_unavailable(await client.get("/v1/requests", headers=world.gs.headers))
        assert (await client.get("/v1/requests", headers=world.gs.headers)).status_code == 200


def _raised_from(cause: BaseException, error: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as raised:
        return raised


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (sa_exc.TimeoutError("QueuePool limit reached"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (sa_exc.OperationalError("SELECT 1", {}, asyncpg.CannotConnectNowError("starting")), True),
        (sa_exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True), True),
        (_raised_from(asyncpg.AdminShutdownError("bye"), RuntimeError("adapter")), True),
        (_raised_from(asyncpg.TooManyConnectionsError("full"), RuntimeError("adapter")), True),
        (ValueError("a bug"), False),
        (sa_exc.IntegrityError("INSERT", {}, asyncpg.UniqueViolationError("dup")), False),
        (sa_exc.DBAPIError("INSERT", {}, asyncpg.RaiseError("disk full")), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(
    error: BaseException, unavailable: bool
) -> None:
    assert is_unavailable(error) is unavailable
