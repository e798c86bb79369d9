"""Snapshots of the test database, put back in one round trip before each test.

A snapshot is a copy of every table of the schema in a schema of its own (``snapshot_fresh``:
what the migrations wrote; ``snapshot_world``: that plus the tests' world), and the position
of every sequence. Putting it back empties every table, copies the snapshot's rows in and sets
each sequence where it was: the same state as TRUNCATE ... RESTART IDENTITY followed by the
same inserts, at a few milliseconds instead of half a second, because DELETE of a few rows
takes no table lock and rewrites no file.
"""

from __future__ import annotations

import asyncpg

from app.models import Base

# Every table of the schema, so that a table added later is snapshotted and emptied too.
_TABLES = [table.name for table in Base.metadata.sorted_tables]


async def take_snapshot(connection: asyncpg.Connection, schema: str) -> str:
    """Copy the database's tables into ``schema``; return the SQL that puts them back."""
    statements = [
        "BEGIN",
        # The audit trail refuses DELETE by trigger (migration 0009); the test harness, as a
        # superuser, empties it with triggers (and foreign key checks) off, only for this.
        "SET LOCAL session_replication_role = replica",
    ]
    # Names from the models' own metadata and from the catalog, never from input.
    await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    for table in _TABLES:
        statements.append(f'DELETE FROM public."{table}"')  # noqa: S608
        await connection.execute(
            f'CREATE TABLE "{schema}"."{table}" AS SELECT * FROM public."{table}"'  # noqa: S608
        )
        if await connection.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"'):  # noqa: S608
            statements.append(
                f'INSERT INTO public."{table}" SELECT * FROM "{schema}"."{table}"'  # noqa: S608
            )
    sequences = await connection.fetch(
        "SELECT sequencename, start_value, last_value FROM pg_sequences WHERE schemaname = 'public'"
    )
    for sequence in sequences:
        # last_value is NULL until the first nextval: then the next one must give start_value.
        if sequence["last_value"] is None:
            position = f"{sequence['start_value']}, false"
        else:
            position = f"{sequence['last_value']}, true"
        statements.append(f"SELECT setval('public.\"{sequence['sequencename']}\"', {position})")
    statements.append("COMMIT")
    return ";\n".join(statements)
