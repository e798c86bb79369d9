"""What every command needs: the database (given or embedded) and one transaction."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import socket
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from app.core.database import Database
from app.core.database.embedded import (
    DATABASE_NAME,
    EmbeddedPostgresMissingError,
    ensure_database,
    start_embedded_server,
)
from app.core.database.faults import caused_by, is_unavailable
from app.core.database.migrate import SchemaOutOfDateError, assert_schema_current
from app.core.database.urls import sqlalchemy_url
from app.core.errors import DomainError
from app.core.settings import database_settings

T = TypeVar("T")


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


def database_url() -> str:
    """DATABASE_URL, or the embedded Postgres (started or joined) when it is unset."""
    settings = database_settings()
    if settings.url:
        return settings.url
    try:
        server_url = start_embedded_server(settings.data_dir)
    except EmbeddedPostgresMissingError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc
    # The embedded server is stopped by an atexit hook. uvicorn re-raises the signal that
    # stopped it once it has shut down, and SIGTERM's default action skips atexit: make it
    # an ordinary exit instead.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    url = asyncio.run(ensure_database(server_url, DATABASE_NAME))
    # Uvicorn's worker processes and create_app() find the database the same way.
    os.environ["DATABASE_URL"] = url
    return url


def in_transaction(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            await assert_schema_current(database.engine)
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except SchemaOutOfDateError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc
    except DomainError as exc:
        echo_err(f"relay247: {exc.detail}")
        raise typer.Exit(1) from exc


def check_schema(url: str) -> None:
    async def check() -> None:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            await assert_schema_current(database.engine)
        finally:
            await database.dispose()

    try:
        asyncio.run(check())
    except SchemaOutOfDateError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc
    except Exception as exc:
        reason = _unusable_database(exc)
        if reason is None:
            raise
        # Where, without the password; why, by the error's class (its message may quote
        # the URL).
        where = sqlalchemy_url(url).render_as_string(hide_password=True)
        echo_err(f"relay247: {reason} ({where}: {type(exc).__name__})")
        raise typer.Exit(2) from None


def _unusable_database(exc: BaseException) -> str | None:
    """What a person is told when the database cannot be used at all, else None (a bug)."""
    if is_unavailable(exc):
        return "the database cannot be reached: is Postgres running, and DATABASE_URL right?"
    if caused_by(exc, asyncpg.InvalidCatalogNameError):
        return "the database named in DATABASE_URL does not exist"
    if caused_by(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return "the database refused DATABASE_URL's user or password"
    return None


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port.")]


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _is_relay247(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=2) as answer:  # noqa: S310
            document = json.load(answer)
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("info", {}).get("title") == "relay247"


def ensure_port_free(host: str, port: int, command: str) -> None:
    """Refuse to start, with what to do instead, when the port is taken: found before the
    embedded Postgres starts and before the demo prints sign-in links that would not work."""
    try:
        taken = _port_taken(host, port)
    except OSError as exc:
        echo_err(f"relay247: cannot listen on {host}:{port}: {exc.strerror}")
        raise typer.Exit(1) from exc
    if not taken:
        return
    base_url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    other = next((p for p in range(port + 1, port + 20) if not _port_taken(host, p)), port + 1)
    elsewhere = f"choose another port: `relay247 {command} --port {other}`"
    if command == "demo":
        elsewhere += f" (or `make run PORT={other}`)"
    if _is_relay247(base_url):
        echo_err(
            f"relay247: relay247 is already running on {base_url}: open {base_url}/web/ (the "
            f"sign-in links it printed still work), or stop it (Ctrl+C where it runs), or "
            f"{elsewhere}"
        )
    else:
        echo_err(
            f"relay247: port {port} on {host} is taken by another program: stop it, or {elsewhere}"
        )
    raise typer.Exit(1)
