"""Test harness: a real Postgres, a real uvicorn on a loopback port, real clients.

The database is DATABASE_URL's server (CI: the machine's Postgres) or, when that is unset,
the embedded one; tests use a database of their own on it, migrated once per run with the
real Alembic revisions and emptied before each test.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI

from app.database import Database
from app.database.embedded import ensure_database, start_embedded_server
from app.database.migrate import upgrade_to_head
from app.database.urls import asyncpg_dsn
from app.main import create_app
from app.models import Base
from app.serving import uvicorn_options
from app.settings import ApiSettings, api_settings, realtime_settings
from tests.factories import World, make_world

pytest_plugins = ["tests.browser"]

# Several test runs may share one server (parallel checkouts): each names its own database.
TEST_DATABASE = os.environ.get("RELAY247_TEST_DATABASE", "relay247_test")
# Every table of the schema, so a table added later is emptied too.
_TABLES = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
async def server_url() -> str:
    """URL of a Postgres server's maintenance database, where test databases are made."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    data_dir = Path(__file__).parent.parent / ".relay247" / "test"
    return await asyncio.to_thread(start_embedded_server, data_dir)


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
    finally:
        await connection.close()
    url = await ensure_database(server_url, TEST_DATABASE)
    await asyncio.to_thread(upgrade_to_head, url)
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A bare connection to the test database, to look at what the service wrote."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
async def _migration_seed(database_url: str) -> list[tuple[str, str]]:
    """The rows the migrations themselves wrote (the network-wide escalation policy), per
    table as JSON, so that every test starts from what a fresh install has."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        seed = []
        for table in Base.metadata.sorted_tables:
            # Table names from the models' own metadata, never from input.
            query = f'SELECT json_agg(t) FROM "{table.name}" AS t'  # noqa: S608
            rows = await connection.fetchval(query)
            if rows is not None:
                seed.append((table.name, rows))
        return seed
    finally:
        await connection.close()


@pytest.fixture(autouse=True)
async def _clean_database(db: asyncpg.Connection, _migration_seed: list[tuple[str, str]]) -> None:
    # The audit table refuses TRUNCATE by trigger (migration 0009); the test harness, as a
    # superuser, empties it with triggers off (session_replication_role), only for this.
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    for table, rows in _migration_seed:
        # A table name of the models' own metadata, never from input.
        source = f'json_populate_recordset(NULL::"{table}", $1)'
        restore = f'INSERT INTO "{table}" SELECT * FROM {source}'  # noqa: S608
        await db.execute(restore, rows)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=2, max_overflow=2)
    yield db
    await db.dispose()


@pytest.fixture
async def world(database: Database) -> World:
    return await make_world(database)


class RunningServer:
    def __init__(self, server: uvicorn.Server, port: int) -> None:
        self.server = server
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/v1/ws"

    @property
    def app(self) -> Any:
        return self.server.config.app


@asynccontextmanager
async def serving_app(
    app: FastAPI, *, api: ApiSettings | None = None, port: int | None = None
) -> AsyncIterator[RunningServer]:
    """``app`` under a real uvicorn with production's options, in the caller's event loop
    (on ``port``, for a restart on the same address; else on a free one)."""
    port = port or free_port()
    options = uvicorn_options(
        api=api or api_settings(), realtime=realtime_settings(), log_level="warning"
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield RunningServer(server, port)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    async with running_server(database_url) as running:
        yield running


def running_server(database_url: str) -> AbstractAsyncContextManager[RunningServer]:
    """The real application on ``database_url`` under a real uvicorn."""
    return serving_app(create_app(database_url))
