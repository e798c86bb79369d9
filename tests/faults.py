"""Faults a test injects into the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


@asynccontextmanager
async def inserts_refused(
    db: asyncpg.Connection, table: str, message: str = "disk full"
) -> AsyncIterator[None]:
    """While inside, Postgres refuses every INSERT into ``table`` with ``message``: a write
    that fails at that step of a use case, as a full disk or a broken replica would."""
    # Names are the test's own constants, not input: no bind parameters exist for DDL.
    await db.execute(
        f"""
        CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{message}'; END $$;
        CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}
            FOR EACH ROW EXECUTE FUNCTION refuse_{table}();
        """
    )
    try:
        yield
    finally:
        await db.execute(f"DROP TRIGGER refuse_{table} ON {table}; DROP FUNCTION refuse_{table}()")
