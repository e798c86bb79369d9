"""Reading what the service wrote to the audit trail, through the `database` fixture."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.database import Database
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
