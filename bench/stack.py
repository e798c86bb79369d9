"""The system under test: a fresh bench database, migrated and seeded, and
``relay247 serve`` on a free loopback port, stopped at the end whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.core.database.embedded import start_embedded_server
from app.core.database.urls import asyncpg_dsn, with_database
from app.core.settings import DatabaseSettings
from bench.progress import progress

EMBEDDED_DIR = Path(".relay247")
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
DURABILITY = ("fsync", "synchronous_commit")


class BenchError(RuntimeError):
    """The benchmark could not run; the message says why."""


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    url: str  # the bench database
    embedded: bool
    server_version: str
    durability: dict[str, str]  # fsync and synchronous_commit: what a commit waits for

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.url)

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


async def _server_url() -> tuple[str, bool]:
    """The URL of the ``postgres`` database of the server to use, and whether it is embedded."""
    configured = DatabaseSettings().url
    if configured:
        return with_database(configured, "postgres"), False
    progress(f"DATABASE_URL is unset: starting the embedded Postgres in {EMBEDDED_DIR}/pg")
    return await asyncio.to_thread(start_embedded_server, EMBEDDED_DIR), True


async def recreate_database(name: str) -> BenchDatabase:
    """Drop and create the database ``name`` on the server; nothing else on it is touched."""
    server_url, embedded = await _server_url()
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        # CREATE/DROP DATABASE take no bind parameters; config.py lets only [a-z0-9_] through.
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        version: str = await connection.fetchval("SHOW server_version")
        durability = {name: await connection.fetchval(f"SHOW {name}") for name in DURABILITY}
    finally:
        await connection.close()
    url = with_database(server_url, name)
    database = BenchDatabase(url, embedded, version, durability)
    progress(f"database {database.display_url} recreated (PostgreSQL {version})")
    return database


@dataclass(frozen=True, slots=True)
class Server:
    """One running ``relay247 serve``."""

    url: str  # http://127.0.0.1:<port>
    pid: int  # the process we started: the server itself with --workers 1, else the supervisor

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/v1/ws"


def _relay247() -> list[str]:
    script = Path(sys.executable).parent / "relay247"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


async def _run_cli(args: list[str], env: Mapping[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *_relay247(),
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip()[-2000:]
        raise BenchError(f"relay247 {' '.join(args)} exited {process.returncode}: {tail}")
    return stdout.decode()


async def migrate(env: Mapping[str, str]) -> None:
    await _run_cli(["migrate"], env)
    progress("schema migrated")


async def seed(env: Mapping[str, str]) -> dict[str, Any]:
    output = await _run_cli(["seed-demo", "--json"], env)
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        raise BenchError("relay247 seed-demo --json printed nothing")
    credentials: dict[str, Any] = json.loads(lines[-1])
    progress(f"demo world seeded: {', '.join(credentials['countries'])}")
    return credentials


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _wait_ready(base_url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise BenchError(f"relay247 serve exited {process.returncode}: {_tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise BenchError(f"relay247 serve not ready after {READY_TIMEOUT_S:.0f}s: {_tail(log)}")


def _tail(log: Path, chars: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no server log)"


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    try:
        process.terminate()
    except ProcessLookupError:  # killed by the bench (bench/deadlines.py), not yet reaped
        await process.wait()
        return
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        progress("relay247 serve ignored SIGTERM; killing it")
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def serving(env: Mapping[str, str], log: Path, workers: int) -> AsyncIterator[Server]:
    """Run ``relay247 serve`` on a free port; yield it; always stop it."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *_relay247(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            await _wait_ready(base_url, process, log)
            progress(f"relay247 serve ready on {base_url} (pid {process.pid}, log: {log})")
            yield Server(base_url, process.pid)
        finally:
            await _stop(process)
            progress("relay247 serve stopped")


@contextlib.contextmanager
def cli_environment(database: BenchDatabase) -> Iterator[dict[str, str]]:
    """The environment of relay247's commands: the bench database, and a scratch data dir so
    the user's saved demo credentials are left alone."""
    with tempfile.TemporaryDirectory(prefix="relay247-bench-") as data_dir:
        yield {**os.environ, "DATABASE_URL": database.url, "RELAY247_DATA_DIR": data_dir}
