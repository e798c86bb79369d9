"""What every command needs: the database (given or embedded) and one transaction."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from app.database import Database
from app.database.embedded import DATABASE_NAME, ensure_database, start_embedded_server
from app.database.migrate import SchemaOutOfDateError, assert_schema_current
from app.errors import DomainError
from app.settings import database_settings

T = TypeVar("T")


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


def database_url() -> str:
    """DATABASE_URL, or the embedded Postgres (started or joined) when it is unset."""
    settings = database_settings()
    if settings.url:
        return settings.url
    server_url = start_embedded_server(settings.data_dir)
    # The embedded server is stopped by an atexit hook. uvicorn re-raises the signal that
    # stopped it once it has shut down, and SIGTERM's default action skips atexit: make it
    # an ordinary exit instead.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    url = asyncio.run(ensure_database(server_url, DATABASE_NAME))
    # Uvicorn's worker processes and create_app() find the database the same way.
    os.environ["DATABASE_URL"] = url
    database_settings.cache_clear()
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


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port.")]
