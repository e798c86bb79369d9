"""Test harness: a real Postgres, a real uvicorn on a loopback port, real clients.

The database is DATABASE_URL's server (CI: the machine's Postgres) or, when that is unset,
the embedded one; tests use a database of their own on it, migrated once per run with the
real Alembic revisions (once per run, as a template each pytest-xdist worker copies) and put
back before each test to a snapshot (tests/snapshots.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import hashlib
import itertools
import os
import random
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI

from app.core.database import Database
from app.core.database.embedded import ensure_database, start_embedded_server
from app.core.database.migrate import upgrade_to_head
from app.core.database.urls import asyncpg_dsn, with_database
from app.core.serving import uvicorn_options
from app.core.settings import ApiSettings, Settings
from app.main import create_app
from tests.factories import World, make_world
from tests.snapshots import take_snapshot

# Several test runs may share one server (parallel checkouts): each names its own databases.
# Under pytest-xdist each worker has a database of its own, cloned from one migrated template.
_BASE_NAME = os.environ.get("RELAY247_TEST_DATABASE", "relay247_test")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_DATABASE = f"{_BASE_NAME}_{_WORKER}" if _WORKER else _BASE_NAME
_TEMPLATE = f"{_BASE_NAME}_template"
_HERE = Path(__file__).parent.parent / ".relay247"

# The audit signing key and checkpoint file live in the data folder: one per worker, new per
# run, so that workers never write each other's checkpoints. Set before any setting is read.
_DATA_DIR = _HERE / "test-data" / (_WORKER or "main")
shutil.rmtree(_DATA_DIR, ignore_errors=True)
_DATA_DIR.mkdir(parents=True)
os.environ["RELAY247_DATA_DIR"] = str(_DATA_DIR)


# Ports for the tests' servers: each worker takes its own block below Linux's ephemeral range
# (32768-60999), so a port found free here is never taken meanwhile by another worker's server
# or by a port the kernel hands out, before the server that was to bind it does.
# Each run starts at a random place in its block: test runs of other checkouts on this machine
# use the same blocks, and a server of theirs answering on a port ours failed to bind would
# pass for ours.
_PORT_BLOCK = 2000
_WORKER_NUMBER = int(_WORKER[2:]) if _WORKER.startswith("gw") else 0
_BLOCK_START = 12000 + _WORKER_NUMBER * _PORT_BLOCK
_FIRST_PORT = _BLOCK_START + random.randrange(_PORT_BLOCK)
_ports = itertools.chain(
    range(_FIRST_PORT, _BLOCK_START + _PORT_BLOCK),
    itertools.cycle(range(_BLOCK_START, _BLOCK_START + _PORT_BLOCK)),
)


def free_port() -> int:
    """A loopback port of this worker's block that nothing listens on now."""
    for _ in range(_PORT_BLOCK):
        port = next(_ports)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in this worker's block")


@asynccontextmanager
async def _machine_lock() -> AsyncIterator[None]:
    """One worker at a time starts the embedded server or builds the template."""
    _HERE.mkdir(exist_ok=True)
    with (_HERE / "test-setup.lock").open("w") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
async def server_url() -> str:
    """URL of a Postgres server's maintenance database, where test databases are made."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    async with _machine_lock():
        return await asyncio.to_thread(start_embedded_server, _HERE / "test")


def _code_digest() -> str:
    """Of the migrations and the code they may import: the template is remade when any changes."""
    digest = hashlib.sha256()
    root = Path(__file__).parent.parent
    for path in sorted([*(root / "migrations").rglob("*.py"), *(root / "app").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> str:
    """This worker's database: a copy of the template, migrated with the real Alembic
    revisions by the first worker that finds it missing or made from other code (a copy
    costs a fraction of a migration)."""
    made_from = await asyncio.to_thread(_code_digest)
    async with _machine_lock():
        connection = await asyncpg.connect(asyncpg_dsn(server_url))
        try:
            made_for = await connection.fetchval(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
                _TEMPLATE,
            )
            if made_for != made_from:
                await connection.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')
                template_url = await ensure_database(server_url, _TEMPLATE)
                await asyncio.to_thread(upgrade_to_head, template_url)
                await connection.execute(f"COMMENT ON DATABASE \"{_TEMPLATE}\" IS '{made_from}'")
            await connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{TEST_DATABASE}" TEMPLATE "{_TEMPLATE}"')
        finally:
            await connection.close()
    return with_database(server_url, TEST_DATABASE)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A bare connection to the test database, to look at what the service wrote."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    yield connection
    await connection.close()


@dataclass(frozen=True)
class _Snapshots:
    """How to put the database back, in one round trip, to what a fresh install has (the
    rows the migrations wrote) or to that plus the tests' world; and that world's parties."""

    fresh: str
    with_world: str
    world: World


@pytest.fixture(scope="session")
async def _snapshots(database_url: str) -> _Snapshots:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        fresh = await take_snapshot(connection, "snapshot_fresh")
        database = Database(database_url, pool_size=1, max_overflow=0)
        try:
            world = await make_world(database)
        finally:
            await database.dispose()
        with_world = await take_snapshot(connection, "snapshot_world")
        await connection.execute(fresh)
        return _Snapshots(fresh, with_world, world)
    finally:
        await connection.close()


@pytest.fixture(autouse=True)
async def _clean_database(
    request: pytest.FixtureRequest, db: asyncpg.Connection, _snapshots: _Snapshots
) -> None:
    """Each test starts from a fresh install's rows, or with the world when it asks for one:
    every table emptied and refilled, every sequence back where it was (milliseconds, where
    TRUNCATE and building the world through the services took half a second)."""
    wants_world = "world" in request.fixturenames
    await db.execute(_snapshots.with_world if wants_world else _snapshots.fresh)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=2, max_overflow=2)
    yield db
    await db.dispose()


@pytest.fixture
def world(_snapshots: _Snapshots, _clean_database: None) -> World:
    """France, Germany and Japan with their units, desks and NCBs, and the General
    Secretariat: as make_world builds them, restored from a snapshot by _clean_database."""
    return World(parties=dict(_snapshots.world.parties))


class RunningServer:
    def __init__(self, server: uvicorn.Server, port: int) -> None:
        self.server = server
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/v1/ws"

    @property
    def app(self) -> Any:
        return self.server.config.app


class _PromptServer(uvicorn.Server):
    """uvicorn's server, stopped in the steps and order of its own shutdown, but without its
    fixed 0.1 s waits (the main loop's tick, a pause for connections to close, then polls),
    which cost every test that starts a server about 0.2 s of its teardown."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            for _ in range(20):  # uvicorn's 0.1 s tick, in steps that notice should_exit
                await asyncio.sleep(0.005)
                if self.should_exit:
                    break

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in self.servers:
            listener.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while self.server_state.connections or self.server_state.tasks:  # noqa: ASYNC110 (uvicorn signals neither)
                    await asyncio.sleep(0.005)
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel()
        for listener in self.servers:
            await listener.wait_closed()
        await self.lifespan.shutdown()


@asynccontextmanager
async def serving_app(
    app: FastAPI, *, api: ApiSettings | None = None, port: int | None = None
) -> AsyncIterator[RunningServer]:
    """``app`` under a real uvicorn with production's options, in the caller's event loop
    (on ``port``, for a restart on the same address; else on a free one)."""
    # Bound here and handed to uvicorn: a port found free and bound later could be taken in
    # between by another worker's server (uvicorn then exits, and the session's loop with it).
    # IPPROTO_TCP named, as getaddrinfo names it when uvicorn binds: asyncio sets TCP_NODELAY
    # only on sockets whose proto says TCP, and an accepted socket inherits its listener's.
    # With proto 0, Nagle held each response's last segment for the client's delayed ACK:
    # 40 ms on every call of a kept-alive connection.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn binds: a restart on the same port finds it in TIME_WAIT.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = port or free_port()
    listener.bind(("127.0.0.1", port))
    settings: Settings = app.state.settings
    options = uvicorn_options(
        api=api or settings.api, realtime=settings.realtime, log_level="warning"
    )
    server = _PromptServer(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield RunningServer(server, port)
    finally:
        server.should_exit = True
        await task
        listener.close()


def changed(settings: Settings, **updates: dict[str, Any]) -> Settings:
    """``settings`` with some fields of some subsystems changed, values of the fields' own
    types: ``changed(settings, audit={"audit_sealer": False})``."""
    return dataclasses.replace(
        settings,
        **{
            name: getattr(settings, name).model_copy(update=fields)
            for name, fields in updates.items()
        },
    )


@pytest.fixture
def settings() -> Settings:
    """The settings the ``server`` fixture's application gets: a test module overrides this
    fixture (taking it as an argument) to change some."""
    return Settings.from_environment()


@pytest.fixture
async def server(database_url: str, settings: Settings) -> AsyncIterator[RunningServer]:
    async with running_server(database_url, settings) as running:
        yield running


def running_server(
    database_url: str, settings: Settings | None = None
) -> AbstractAsyncContextManager[RunningServer]:
    """The real application on ``database_url`` under a real uvicorn, with ``settings``
    (default: the environment's)."""
    return serving_app(create_app(database_url, settings))


_session_loop: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(scope="session", autouse=True)
async def _remember_the_loop() -> None:
    _session_loop.append(asyncio.get_running_loop())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test stopped by pytest-timeout shows where each of its asyncio tasks waits: the
    timeout's own stack shows only the event loop's poll."""
    outcome = yield
    if call.excinfo is None or "Timeout" not in str(call.excinfo.value) or not _session_loop:
        return
    stacks = [_awaiting(task) for task in asyncio.all_tasks(_session_loop[0])]
    outcome.get_result().sections.append(("asyncio tasks at the timeout", "\n".join(stacks)))


def _awaiting(task: asyncio.Task[Any]) -> str:
    """The chain of coroutines ``task`` waits in, outermost first (Task.print_stack shows
    only the outermost frame of a suspended coroutine)."""
    lines = [repr(task)]
    awaited: Any = task.get_coro()
    while awaited is not None and len(lines) < 40:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is not None:
            lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return "\n".join(lines)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow (seconds each: subprocesses, load, a browser walk) go first, so that
    under pytest-xdist the short ones fill in around them rather than one slow test ending
    the run alone on a worker."""
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
