"""Reading what the service wrote to the audit trail, through the `database` fixture."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import select

from app.core.database import Database
from app.models import AuditEntry


async def entries(
    database: Database, action: str | None = None, *, object_id: str | None = None
) -> list[AuditEntry]:
    """The audit entries, oldest first, optionally of one action and one object."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    async with database.transaction() as session:
        return list(await session.scalars(query))


def details(entry: AuditEntry) -> dict[str, Any]:
    return dict(entry.details)


async def footprint(db: asyncpg.Connection, request_id: str, *columns: str) -> dict[str, Any]:
    """A request's ``columns`` and everything written about it, counted: its history rows,
    audit entries and events. Equal before and after a call: the call wrote nothing (but the
    record of its refusal, which tests/test_refusal_audit.py checks)."""
    row = await db.fetchrow(
        f"SELECT {', '.join(columns)} FROM requests WHERE id = $1",  # noqa: S608 (test's names)
        request_id,
    )
    assert row is not None
    counted = {
        "transitions": "SELECT count(*) FROM request_transitions WHERE request_id = $1",
        "audit": (  # refusals.ACTION
            "SELECT count(*) FROM audit_entries WHERE object_id = $1 AND action <> 'access.refused'"
        ),
        "events": "SELECT count(*) FROM events WHERE request_id = $1",
    }
    return {
        **dict(row),
        **{name: await db.fetchval(sql, request_id) for name, sql in counted.items()},
    }
