"""Time that tests control: a deadline is made due now by the test, as if its time had passed,
and the workers are woken the way a write of a near deadline wakes them (a NOTIFY on the
events' channel). The firing is the real worker's: its claim and row locks, its events, audit
entries and next deadline.

Tests that drive time give their policies steps of STEP_SECONDS, so that no deadline falls due
by itself while they run: each step happens when the test says, at once. Two tests still let
deadlines fall due on their own, in real time: test_escalation's walk of every step (the
timers, and the wake-ups that submit and each escalation send) and the takeover after a
kill -9 (its documented bound is a time).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from app.deadlines.rows import WAKE_CHANNEL
from app.realtime.notifier import PG_CHANNEL
from tests.waiting import eventually

# Long enough that nothing falls due by itself during a test; short of any limit.
STEP_SECONDS = 600


async def wake_workers(db: asyncpg.Connection) -> None:
    """Wake every instance's deadline worker, as a write of a near deadline does."""
    await db.execute("SELECT pg_notify($1, $2)", PG_CHANNEL, WAKE_CHANNEL)


async def bring_due(
    db: asyncpg.Connection, request_id: str, kind: str | None = None, step: int | None = None
) -> asyncpg.Record:
    """The request's nearest pending deadline (of ``kind``, and ``step``) made due now, as if
    its time had passed, and the workers woken. Returns its row (id, kind, step)."""
    row = await db.fetchrow(
        """
        UPDATE request_deadlines SET due_at = now()
        WHERE id = (
            SELECT id FROM request_deadlines
            WHERE request_id = $1 AND ($2::text IS NULL OR kind::text = $2)
              AND ($3::int IS NULL OR step = $3)
              AND fired_at IS NULL AND cancelled_at IS NULL
            ORDER BY due_at LIMIT 1
        )
        RETURNING id, kind, step
        """,
        uuid.UUID(request_id),
        kind,
        step,
    )
    assert row is not None, f"no pending {kind or 'deadline'} {step or ''} for {request_id}"
    await wake_workers(db)
    return row


async def bring_due_together(
    db: asyncpg.Connection, request_ids: list[str], kind: str = "ack", *, wake: bool = True
) -> None:
    """The pending deadlines of ``kind`` of these requests made due at once, in the order
    given (each a millisecond before the next, so that a worker claims them in that order),
    and the workers woken (unless ``wake`` is false: the caller wakes them when it likes)."""
    changed = await db.execute(
        """
        UPDATE request_deadlines d
        SET due_at = now() - interval '1 millisecond' * (cardinality($1::uuid[]) - given.n)
        FROM unnest($1::uuid[]) WITH ORDINALITY AS given(request_id, n)
        WHERE d.request_id = given.request_id AND d.kind::text = $2
          AND d.fired_at IS NULL AND d.cancelled_at IS NULL
        """,
        [uuid.UUID(i) for i in request_ids],
        kind,
    )
    assert changed == f"UPDATE {len(request_ids)}", changed
    if wake:
        await wake_workers(db)


async def settled(db: asyncpg.Connection, deadline_id: int) -> asyncpg.Record:
    """Wait until a worker has fired the deadline (or found it moot); its row."""
    found: dict[str, Any] = {}

    async def done() -> bool:
        row = await db.fetchrow(
            "SELECT id, kind, step, due_at, fired_at, cancelled_at FROM request_deadlines "
            "WHERE id = $1",
            deadline_id,
        )
        found["row"] = row
        return row is not None and (row["fired_at"] or row["cancelled_at"]) is not None

    await eventually(done)
    row: asyncpg.Record = found["row"]
    return row


async def fire_next(
    db: asyncpg.Connection, request_id: str, kind: str | None = None, step: int | None = None
) -> asyncpg.Record:
    """Bring the request's next deadline (of ``kind``, ``step``) due and wait until a worker
    fired it; its row."""
    row = await settled(db, (await bring_due(db, request_id, kind, step))["id"])
    assert row["fired_at"] is not None, f"found moot, not fired: {dict(row)}"
    return row
