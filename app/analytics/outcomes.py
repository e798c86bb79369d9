"""The figures of a final request, derived from its own records only: the request's columns
(created, delivered, acknowledged, responded, closed; its escalation step and overdue flag;
its legal clock's due time and pause), its first acknowledgement deadline
(``request_deadlines``, step 0) and its target country's time zone.

One SELECT says how (``_DERIVATION``), and every writer uses it: the action that makes a
request final (:func:`refresh`, in that action's transaction), and ``relay247 analytics
rebuild`` (:func:`rebuild`), which recomputes the whole table from scratch, or with
``--check`` (:func:`differences`) says which rows differ from what the records give. There
is no second way to compute a figure, so the rollup cannot drift from the truth unless a
record changes after the request was final, which the check finds.

Which requests count is decided in :func:`counted_requests` alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import rollup
from app.requests import lifecycle

# No record says when a desk works: countries keep a time zone (countries.time_zone) and
# rosters keep shifts, but a 24/7 desk's roster covers every hour. "Working hours" are
# therefore the office hours of the target's zone, 08:00 to 18:00, Monday to Friday (ISO
# days 1-5), the default docs/analytics.md states.
WORKDAY_START = time(8, 0)
WORKDAY_END = time(18, 0)
WORKING_DAYS = (1, 5)  # ISO day of week, Monday to Friday

_FINAL = ", ".join(f"'{status.value}'" for status in sorted(lifecycle.FINAL))


def counted_requests(alias: str = "r") -> str:
    """THE rule of which requests count in analytics, as SQL over ``requests`` (``alias``):
    final ones (closed, declined, cancelled), drills left out (issue 25: a drill is kept out
    of the real statistics; app/drills/ measures its own). Every figure, every aggregate and
    the rebuild go through it."""
    return (
        f"{alias}.status IN ({_FINAL}) AND {alias}.closed_at IS NOT NULL "
        f"AND {alias}.drill_id IS NULL"
    )


# The columns of request_outcomes, in the order _DERIVATION gives them.
COLUMNS = (
    "request_id",
    "status",
    "type",
    "priority",
    "requesting_agency_id",
    "requesting_country",
    "target_country",
    "created_at",
    "closed_at",
    "deliver_seconds",
    "acknowledge_seconds",
    "respond_seconds",
    "close_seconds",
    "escalation_steps",
    "overdue",
    "clock",
    "clock_margin_seconds",
    "ack_within_policy",
    "ack_in_working_hours",
)

# The clock's margin: its due time (already moved later by each pause that ended) against the
# answer, or the end of an unanswered request. A clock still paused at the end stood still
# since the pause: what was left then is the margin.
_DERIVATION = f"""
SELECT
    r.id AS request_id,
    r.status,
    r.type,
    r.priority,
    r.requesting_agency_id,
    r.requesting_country,
    r.target_country,
    r.created_at,
    r.closed_at,
    extract(epoch FROM r.delivered_at - r.created_at)::float8 AS deliver_seconds,
    extract(epoch FROM r.acknowledged_at - r.created_at)::float8 AS acknowledge_seconds,
    extract(epoch FROM r.responded_at - r.created_at)::float8 AS respond_seconds,
    extract(epoch FROM r.closed_at - r.created_at)::float8 AS close_seconds,
    r.escalation_step AS escalation_steps,
    r.overdue_at IS NOT NULL AS overdue,
    CASE
        WHEN r.response_due_at IS NULL THEN NULL
        WHEN clock.margin < 0 THEN 'breached'
        WHEN r.responded_at IS NOT NULL THEN 'met'
        ELSE 'not_due'
    END AS clock,
    clock.margin AS clock_margin_seconds,
    CASE
        WHEN r.acknowledged_at IS NOT NULL THEN r.acknowledged_at <= first_ack.due_at
        WHEN r.closed_at > first_ack.due_at THEN false
    END AS ack_within_policy,
    CASE WHEN r.acknowledged_at IS NOT NULL THEN
        extract(isodow FROM r.acknowledged_at AT TIME ZONE c.time_zone)
            BETWEEN {WORKING_DAYS[0]} AND {WORKING_DAYS[1]}
        AND (r.acknowledged_at AT TIME ZONE c.time_zone)::time >= '{WORKDAY_START.isoformat()}'
        AND (r.acknowledged_at AT TIME ZONE c.time_zone)::time < '{WORKDAY_END.isoformat()}'
    END AS ack_in_working_hours
FROM requests r
JOIN countries c ON c.code = r.target_country
LEFT JOIN request_deadlines first_ack
    ON first_ack.request_id = r.id AND first_ack.kind = 'ack' AND first_ack.step = 0
CROSS JOIN LATERAL (
    SELECT extract(epoch FROM
        CASE WHEN r.response_paused_at IS NOT NULL
            THEN r.response_due_at - r.response_paused_at
            ELSE r.response_due_at - coalesce(r.responded_at, r.closed_at)
        END)::float8 AS margin
) clock
WHERE {counted_requests("r")}
"""  # noqa: S608 (constants of this module only, no input)

_COLUMN_LIST = ", ".join(COLUMNS)
_REFRESH_DELETE = text("DELETE FROM request_outcomes WHERE request_id = :request_id")
_REFRESH_INSERT = text(
    f"INSERT INTO request_outcomes ({_COLUMN_LIST}) {_DERIVATION} AND r.id = :request_id"
)


async def refresh(session: AsyncSession, request_id: uuid.UUID) -> None:
    """Make the request's outcome row what its records say now, in the caller's transaction:
    written when it became final, gone when it was reopened. Called by the action that moved
    it to or from a final state (app/requests/actions.py), after its change was flushed. The
    rollup (app/analytics/rollup.py) follows in the same transaction: the old row's
    contribution subtracted, the new one's added."""
    await rollup.subtract(session, request_id)
    await session.execute(_REFRESH_DELETE, {"request_id": request_id})
    await session.execute(_REFRESH_INSERT, {"request_id": request_id})
    await rollup.add(session, request_id)


@dataclass(frozen=True, slots=True)
class Differences:
    """Rows of request_outcomes that the records do not give (stale or foreign) and rows
    the records give that the table lacks or holds otherwise; then the same of the rollup
    against request_outcomes."""

    extra: int
    missing: int
    rollup_extra: int = 0
    rollup_missing: int = 0

    @property
    def none(self) -> bool:
        return not (self.extra or self.missing or self.rollup_extra or self.rollup_missing)


_TABLE = f"SELECT {_COLUMN_LIST} FROM request_outcomes"  # noqa: S608
_DERIVED = f"SELECT {_COLUMN_LIST} FROM ({_DERIVATION}) AS derived"  # noqa: S608
_EXTRA = text(f"SELECT count(*) FROM ({_TABLE} EXCEPT ALL {_DERIVED}) AS x")  # noqa: S608
_MISSING = text(f"SELECT count(*) FROM ({_DERIVED} EXCEPT ALL {_TABLE}) AS x")  # noqa: S608
_REBUILD = text(f"INSERT INTO request_outcomes ({_COLUMN_LIST}) {_DERIVATION}")


async def differences(session: AsyncSession) -> Differences:
    """Compare request_outcomes row for row (EXCEPT ALL, both ways) with the derivation from
    scratch, and the rollup with request_outcomes."""
    extra = await session.scalar(_EXTRA)
    missing = await session.scalar(_MISSING)
    rollup_extra, rollup_missing = await rollup.differences(session)
    return Differences(
        extra=int(extra or 0),
        missing=int(missing or 0),
        rollup_extra=rollup_extra,
        rollup_missing=rollup_missing,
    )


async def rebuild(session: AsyncSession) -> int:
    """Recompute every outcome from the records, in the caller's transaction; the number of
    rows written; then the rollup from them. The tables are locked for the rebuild (in the
    order a refresh writes them), so no action's refresh interleaves."""
    await session.execute(text("LOCK TABLE request_outcomes IN EXCLUSIVE MODE"))
    await session.execute(text("DELETE FROM request_outcomes"))
    written = await session.execute(_REBUILD)
    await rollup.rebuild(session)
    return int(written.rowcount)  # type: ignore[attr-defined]
