"""The outbox's statements: lease what is due, record how attempts went, count for
/metrics. Written as SQL because each is one round trip doing several things at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import (
    ARRAY,
    DateTime,
    Float,
    Integer,
    Interval,
    SmallInteger,
    String,
    Uuid,
    bindparam,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.models.outbox import MessageStatus, Route
from app.outbox.couriers import MOOT, Attempted, Leased

# Due messages nobody holds, at most ``per_destination`` in flight per destination (those
# other senders hold included): a skip scan finds each destination with something due, then
# each gives its soonest. A destination with a thousand messages due therefore takes only its
# share, and the messages of every other destination are leased beside them: a dead endpoint
# holds a few places, never the queue.
_LEASE = text(
    """
    WITH RECURSIVE destinations AS (
        (SELECT destination_id FROM outbox_messages
         WHERE status = 'pending' AND due_at <= now() AND route = ANY(:routes)
         ORDER BY destination_id LIMIT 1)
        UNION ALL
        SELECT (SELECT m.destination_id FROM outbox_messages m
                WHERE m.status = 'pending' AND m.due_at <= now() AND m.route = ANY(:routes)
                  AND m.destination_id > d.destination_id
                ORDER BY m.destination_id LIMIT 1)
        FROM destinations d WHERE d.destination_id IS NOT NULL
    ),
    candidates AS (
        SELECT c.id, c.due_at FROM destinations d
        CROSS JOIN LATERAL (
            SELECT count(*) AS n FROM outbox_messages b
            WHERE b.destination_id = d.destination_id AND b.status = 'pending'
              AND b.leased_until > now()
        ) AS busy
        CROSS JOIN LATERAL (
            SELECT m.id, m.due_at FROM outbox_messages m
            WHERE m.destination_id = d.destination_id AND m.status = 'pending'
              AND m.due_at <= now() AND (m.leased_until IS NULL OR m.leased_until <= now())
              AND m.route = ANY(:routes)
            ORDER BY m.due_at
            LIMIT greatest(:per_destination - busy.n, 0)
        ) AS c
        WHERE d.destination_id IS NOT NULL
    ),
    chosen AS (
        SELECT m.id FROM outbox_messages m
        WHERE m.id IN (SELECT id FROM candidates) AND m.status = 'pending'
          AND (m.leased_until IS NULL OR m.leased_until <= now())
        ORDER BY m.due_at
        LIMIT :limit
        FOR UPDATE OF m SKIP LOCKED
    )
    UPDATE outbox_messages m
    SET leased_until = now() + :lease, attempts = least(m.attempts, 32766) + 1
    FROM chosen WHERE m.id = chosen.id
    RETURNING m.id, m.route, m.destination_id, m.event_type, m.request_id, m.principal_id,
              m.payload, m.attempts, m.created_at
    """
).bindparams(bindparam("lease", type_=Interval), bindparam("routes", type_=ARRAY(String)))


async def lease(
    connection: AsyncConnection,
    *,
    routes: Sequence[Route],
    limit: int,
    per_destination: int,
    lease_for: timedelta,
) -> list[Leased]:
    """Up to ``limit`` due messages of ``routes`` (those this instance has couriers for)."""
    rows = await connection.execute(
        _LEASE,
        {
            "routes": [route.value for route in routes],
            "limit": limit,
            "per_destination": per_destination,
            "lease": lease_for,
        },
    )
    return [
        Leased(
            id=row.id,
            route=Route(row.route),
            destination_id=row.destination_id,
            event_type=row.event_type,
            request_id=row.request_id,
            principal_id=row.principal_id,
            payload=row.payload,
            attempt=row.attempts,
            created_at=row.created_at,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Decision:
    """What an attempt means for its message: sent, tried again in ``retry_in`` seconds, or
    failed for good (``retry_in`` None and not delivered)."""

    attempted: Attempted
    retry_in: float | None


# Each message's new state and its attempt, in one statement. A message cancelled while it
# was in flight (its request acknowledged) stays cancelled; its attempt is kept all the same.
_RECORD = text(
    """
    WITH decided AS (
        SELECT * FROM unnest(:ids, :statuses, :retry_in, :numbers, :started, :durations,
                             :outcomes, :codes, :responses)
          AS d(id, status, retry_in, number, started_at, duration_ms, outcome, status_code,
               response)
    ),
    updated AS (
        UPDATE outbox_messages m
        SET status = d.status,
            leased_until = NULL,
            due_at = CASE WHEN d.retry_in IS NULL THEN m.due_at
                          ELSE now() + make_interval(secs => d.retry_in) END,
            finished_at = CASE WHEN d.status = 'pending' THEN NULL ELSE now() END
        FROM decided d
        WHERE m.id = d.id AND m.status = 'pending'
    )
    INSERT INTO outbox_attempts (message_id, number, started_at, duration_ms, outcome,
                                 status_code, response)
    SELECT id, number, started_at, duration_ms, outcome, status_code, response FROM decided
    """
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid)),
    bindparam("statuses", type_=ARRAY(String)),
    bindparam("retry_in", type_=ARRAY(Float)),
    bindparam("numbers", type_=ARRAY(SmallInteger)),
    bindparam("started", type_=ARRAY(DateTime(timezone=True))),
    bindparam("durations", type_=ARRAY(Integer)),
    bindparam("outcomes", type_=ARRAY(String)),
    bindparam("codes", type_=ARRAY(SmallInteger)),
    bindparam("responses", type_=ARRAY(String)),
)


def _status(decision: Decision) -> MessageStatus:
    if decision.attempted.outcome.delivered:
        return MessageStatus.SENT
    if decision.attempted.outcome.outcome == MOOT:
        return MessageStatus.CANCELLED
    return MessageStatus.PENDING if decision.retry_in is not None else MessageStatus.FAILED


async def record(session: AsyncSession, decisions: Sequence[Decision]) -> None:
    attempted = [d.attempted for d in decisions]
    await session.execute(
        _RECORD,
        {
            "ids": [a.message.id for a in attempted],
            "statuses": [_status(d).value for d in decisions],
            "retry_in": [d.retry_in for d in decisions],
            "numbers": [a.message.attempt for a in attempted],
            "started": [a.started_at for a in attempted],
            "durations": [a.duration_ms for a in attempted],
            "outcomes": [a.outcome.outcome for a in attempted],
            "codes": [a.outcome.status_code for a in attempted],
            "responses": [a.outcome.response for a in attempted],
        },
    )


_CANCEL_ALERTS = text(
    """
    UPDATE outbox_messages SET status = 'cancelled', finished_at = now(), leased_until = NULL
    WHERE request_id = ANY(:request_ids) AND status = 'pending' AND route <> 'webhook'
    """
).bindparams(bindparam("request_ids", type_=ARRAY(Uuid)))


async def cancel_alerts(session: AsyncSession, request_ids: Sequence[uuid.UUID]) -> None:
    """Someone acknowledged (or the request ended): its alerts not sent yet stay unsent, on
    every channel and device. Webhooks are records of what happened, and still go."""
    await session.execute(_CANCEL_ALERTS, {"request_ids": list(request_ids)})


# The soonest of: a message not leased coming due, a lease running out. Two minimums, each
# read from a partial index (the due one walks past only what is in flight), not one over
# every pending row: the sender asks this after most rounds, with thousands pending.
_NEAREST = text(
    """
    SELECT extract(epoch FROM least(
        (SELECT min(due_at) FROM outbox_messages
         WHERE status = 'pending' AND leased_until IS NULL AND route = ANY(:routes)),
        (SELECT min(leased_until) FROM outbox_messages
         WHERE status = 'pending' AND leased_until IS NOT NULL AND route = ANY(:routes))
    ) - clock_timestamp())
    """
).bindparams(bindparam("routes", type_=ARRAY(String)))


async def seconds_to_nearest(connection: AsyncConnection, routes: Sequence[Route]) -> float | None:
    """How long until the nearest message is due, or a lease of one runs out."""
    found = await connection.scalar(_NEAREST, {"routes": [route.value for route in routes]})
    return float(found) if found is not None else None


@dataclass(frozen=True, slots=True)
class Backlog:
    queued: dict[str, int]  # pending, by route
    oldest_due_seconds: float  # how late the most overdue pending message is (0: none late)


_BACKLOG = text(
    """
    SELECT route, count(*) AS n,
           coalesce(extract(epoch FROM now() - min(due_at)), 0) AS late
    FROM outbox_messages WHERE status = 'pending' GROUP BY route
    """
)


async def backlog(connection: AsyncConnection) -> Backlog:
    rows = (await connection.execute(_BACKLOG)).all()
    return Backlog(
        queued={row.route: row.n for row in rows},
        oldest_due_seconds=max((max(float(row.late), 0.0) for row in rows), default=0.0),
    )
