"""Final requests written straight into the tables, at times a test chooses, for the analytics
tests: the figures are derived from the records, so a fixture is its records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.models.enums import Priority, RequestStatus, RequestType, Role
from tests.factories import World

OUTCOME_COLUMNS = (
    "request_id, status, type, priority, requesting_country, target_country, created_at, "
    "closed_at, deliver_seconds, acknowledge_seconds, respond_seconds, close_seconds, "
    "escalation_steps, overdue, clock, clock_margin_seconds, ack_within_policy, "
    "ack_in_working_hours"
)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Records:
    """What a request's records say; None: never happened."""

    sender: str
    target: str
    created: str
    status: RequestStatus
    closed: str | None
    type: RequestType = RequestType.PRESERVATION
    priority: Priority = Priority.URGENT
    delivered: str | None = None
    acknowledged: str | None = None
    responded: str | None = None
    first_ack_due: str | None = None
    response_due: str | None = None
    response_paused: str | None = None
    escalation_step: int = 0
    overdue: str | None = None


def _time(value: str | None) -> datetime | None:
    return None if value is None else at(value)


async def write(db: asyncpg.Connection, world: World, records: Records) -> uuid.UUID:
    """The request's row (and its first acknowledgement deadline) as the service would have
    left them."""
    unit = world(records.sender, Role.UNIT)
    request_id = uuid.uuid4()
    await db.execute(
        """
        INSERT INTO requests (id, type, priority, status, requesting_agency_id,
            requesting_country, target_country, created_by, handling_code, onward_use,
            content_hash, created_at, updated_at, assigned_at, retention_days, delivered_at,
            acknowledged_at, responded_at, closed_at, escalation_step, overdue_at,
            response_due_at, response_paused_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'GREEN', '{H0}', repeat('0', 64), $9, $9, $9,
            30, $10, $11, $12, $13, $14, $15, $16, $17)
        """,
        request_id,
        records.type.value,
        records.priority.value,
        records.status.value,
        unit.agency_id,
        records.sender,
        records.target,
        unit.principal_id,
        at(records.created),
        _time(records.delivered),
        _time(records.acknowledged),
        _time(records.responded),
        _time(records.closed),
        records.escalation_step,
        _time(records.overdue),
        _time(records.response_due),
        _time(records.response_paused),
    )
    if records.first_ack_due is not None:
        await db.execute(
            "INSERT INTO request_deadlines (request_id, kind, step, due_at) "
            "VALUES ($1, 'ack', 0, $2)",
            request_id,
            at(records.first_ack_due),
        )
    return request_id


async def outcome_rows(db: asyncpg.Connection) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await db.fetch(f"SELECT {OUTCOME_COLUMNS} FROM request_outcomes")  # noqa: S608
    return {row["request_id"]: dict(row) for row in rows}


async def rollup_rows(
    db: asyncpg.Connection,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rollup's cells and buckets, sorted: to compare what the service kept with a rebuild."""
    cells = await db.fetch("SELECT * FROM request_outcome_rollups")
    buckets = await db.fetch("SELECT * FROM request_outcome_histograms")
    return sorted(tuple(row) for row in cells), sorted(tuple(row) for row in buckets)
