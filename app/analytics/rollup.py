"""The rollup the aggregates read: per cell (final requests submitted on one UTC day, from one
agency, so one country, to one target country, of one type and priority) their counts
(request_outcome_rollups) and, per stage, a histogram of their durations over fixed
log-spaced buckets (request_outcome_histograms, one row per non-empty bucket).

Kept in the transaction that writes or deletes a request's request_outcomes row
(:func:`subtract` before, :func:`add` after, app/analytics/outcomes.py ``refresh``), derived
from request_outcomes only, so ``relay247 analytics rebuild`` recomputes it (:func:`rebuild`)
and ``--check`` compares it (:func:`differences`).

Contention, on purpose: every request made final on the same day for the same cell updates
the same rows, and the first to do so holds their lock until it commits. A second one waits
for the first's commit (milliseconds); cells are narrow (one agency, one target, one type and
priority), so this only meets requests of one sender to one country on one day.

**Buckets.** Bucket 0 holds every duration up to 1 s; bucket ``i`` (1 to :data:`LAST`)
holds durations in ``(2^((i-1)/16), 2^(i/16)]`` seconds, 16 buckets per doubling, each 4.4%
wider than the previous one's upper bound, up to ``2^(357/16)`` s (60.3 days); bucket
:data:`OVERFLOW` holds anything longer. The bucket of a duration is computed in SQL only
(:data:`BUCKET_OF_SECONDS`); Python knows only the bounds (:func:`lower`, :func:`upper`).

**Percentiles** (:func:`percentile`), as Prometheus' ``histogram_quantile``: of ``n``
durations, the ``q`` percentile's rank is ``q * n``; the first bucket whose cumulative count
reaches the rank holds it, and the estimate interpolates linearly within that bucket's bounds
``lower + (upper - lower) * (rank - before) / in_bucket``, where ``before`` counts the
durations of the buckets below. In the overflow bucket, the estimate is its lower bound.

**Error bound.** The bucket found holds the ``ceil(q * n)``-th smallest duration (the
nearest-rank percentile), and so does the estimate's range: between 1 s and 60 days the
estimate differs from that duration by less than the bucket's width, under 4.43% (``2^(1/16)
- 1``) of it; below 1 s by less than 1 s. (For a handful of durations, the nearest-rank
percentile differs from an interpolating one such as Postgres' ``percentile_cont``; the
bound is against the former.)
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SUBDIVISIONS = 16  # buckets per doubling
GROWTH = 2 ** (1 / SUBDIVISIONS)  # each bucket's upper bound over its lower: 1.0443
RELATIVE_ERROR = GROWTH - 1
LONGEST_SECONDS = 60 * 86400  # the last bucket's upper bound is the first at or above this
LAST = math.ceil(SUBDIVISIONS * math.log2(LONGEST_SECONDS))  # 357
OVERFLOW = LAST + 1

BUCKET_OF_SECONDS = (
    "CASE WHEN {s} <= 1 THEN 0 "
    f"ELSE least(ceil({SUBDIVISIONS} * ln({{s}}) / ln(2)), {OVERFLOW}) END::smallint"
)


def upper(bucket: int) -> float:
    """The bucket's upper bound in seconds (infinite for the overflow bucket)."""
    return math.inf if bucket >= OVERFLOW else 2 ** (max(bucket, 0) / SUBDIVISIONS)


def lower(bucket: int) -> float:
    return 0.0 if bucket <= 0 else upper(bucket - 1)


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` percentile (0 to 1) of the durations counted by ``histogram`` (bucket: count),
    by the rule of this module's docstring; None when it counts none."""
    total = sum(count for count in histogram.values() if count > 0)
    if total == 0:
        return None
    rank = q * total
    before = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count <= 0:
            continue
        if before + count >= rank:
            if bucket >= OVERFLOW:
                return lower(bucket)
            low, high = lower(bucket), upper(bucket)
            return low + (high - low) * (rank - before) / count
        before += count
    raise AssertionError("unreachable: the last bucket reaches every rank")


KEY = ("day", "target_country", "requesting_country", "requesting_agency_id", "type", "priority")
_KEY_LIST = ", ".join(KEY)
_KEY_OF_OUTCOME = (
    "(o.created_at AT TIME ZONE 'UTC')::date, o.target_country, o.requesting_country, "
    "o.requesting_agency_id, o.type, o.priority"
)
# Each count of a cell, as what one request_outcomes row (o) adds to it.
COUNTS = {
    "requests": "1",
    "escalated": "CASE WHEN o.escalation_steps > 0 THEN 1 ELSE 0 END",
    "overdue": "CASE WHEN o.overdue THEN 1 ELSE 0 END",
    "clock_met": "CASE WHEN o.clock = 'met' THEN 1 ELSE 0 END",
    "clock_breached": "CASE WHEN o.clock = 'breached' THEN 1 ELSE 0 END",
    "ack_within_policy": "CASE WHEN o.ack_within_policy THEN 1 ELSE 0 END",
    "ack_policy_known": "CASE WHEN o.ack_within_policy IS NOT NULL THEN 1 ELSE 0 END",
    "ack_in_working_hours": "CASE WHEN o.ack_in_working_hours THEN 1 ELSE 0 END",
    "ack_hours_known": "CASE WHEN o.ack_in_working_hours IS NOT NULL THEN 1 ELSE 0 END",
}
_COUNT_LIST = ", ".join(COUNTS)
# The stages' durations of one row, one row each (NULL: the request never reached it).
_STAGES = (
    "CROSS JOIN LATERAL (VALUES ('deliver', o.deliver_seconds), "
    "('acknowledge', o.acknowledge_seconds), ('respond', o.respond_seconds), "
    "('close', o.close_seconds)) AS s(stage, seconds)"
)
_BUCKET = BUCKET_OF_SECONDS.format(s="s.seconds")

# One request's contribution, times :sign (1 to add, -1 to subtract), in one statement. The
# buckets' INSERT reads the cell's CTE (an init plan) so that the cell's row is always locked
# first, then its buckets: every writer of a cell takes the same locks in the same order.
_APPLY = text(f"""
WITH cell AS (
    INSERT INTO request_outcome_rollups ({_KEY_LIST}, {_COUNT_LIST})
    SELECT {_KEY_OF_OUTCOME}, {", ".join(f":sign * {e}" for e in COUNTS.values())}
    FROM request_outcomes o WHERE o.request_id = :request_id
    ON CONFLICT ({_KEY_LIST}) DO UPDATE SET
        {", ".join(f"{c} = request_outcome_rollups.{c} + excluded.{c}" for c in COUNTS)}
    RETURNING 1
)
INSERT INTO request_outcome_histograms ({_KEY_LIST}, stage, bucket, requests)
SELECT {_KEY_OF_OUTCOME}, s.stage, {_BUCKET}, :sign
FROM request_outcomes o {_STAGES}
WHERE o.request_id = :request_id AND s.seconds IS NOT NULL AND (SELECT count(*) FROM cell) > 0
ON CONFLICT ({_KEY_LIST}, stage, bucket) DO UPDATE SET
    requests = request_outcome_histograms.requests + excluded.requests
""")  # noqa: S608 (this module's constants only)

_SAME_CELL = " AND ".join(f"t.{k} = c.{k}" for k in KEY)
# After a subtraction: a cell or bucket that counts nobody is no row (as the rebuild gives);
# the cell first again (read by the main DELETE, the CTE runs before it).
_PRUNE = text(f"""
WITH c AS (
    SELECT {_KEY_OF_OUTCOME.replace("::date,", "::date AS day,", 1)}
    FROM request_outcomes o WHERE o.request_id = :request_id
),
emptied AS (
    DELETE FROM request_outcome_rollups t USING c WHERE {_SAME_CELL} AND t.requests = 0
    RETURNING 1
)
DELETE FROM request_outcome_histograms t USING c
WHERE {_SAME_CELL} AND t.requests = 0 AND (SELECT count(*) FROM emptied) >= 0
""")  # noqa: S608


async def subtract(session: AsyncSession, request_id: uuid.UUID) -> None:
    """Take the request's request_outcomes row (if any) out of the rollup: call before the
    row is deleted."""
    await session.execute(_APPLY, {"request_id": request_id, "sign": -1})
    await session.execute(_PRUNE, {"request_id": request_id})


async def add(session: AsyncSession, request_id: uuid.UUID) -> None:
    """Count the request's request_outcomes row (if any) in the rollup: call after it is
    written."""
    await session.execute(_APPLY, {"request_id": request_id, "sign": 1})


_SUMS = ", ".join(f"sum({e})::int" for e in COUNTS.values())
_DERIVED_CELLS = " ".join(  # this module's constants only
    ("SELECT", _KEY_OF_OUTCOME, ",", _SUMS, "FROM request_outcomes o GROUP BY", _KEY_OF_OUTCOME)
)
_DERIVED_BUCKETS = " ".join(
    (
        f"SELECT {_KEY_OF_OUTCOME}, s.stage, {_BUCKET}, count(*)::int",
        f"FROM request_outcomes o {_STAGES} WHERE s.seconds IS NOT NULL",
        f"GROUP BY {_KEY_OF_OUTCOME}, s.stage, {_BUCKET}",
    )
)
_CELLS = f"SELECT {_KEY_LIST}, {_COUNT_LIST} FROM request_outcome_rollups"  # noqa: S608
_BUCKETS = f"SELECT {_KEY_LIST}, stage, bucket, requests FROM request_outcome_histograms"  # noqa: S608


def _differing(table: str, derived: str) -> tuple[str, str]:
    return (
        f"SELECT count(*) FROM ({table} EXCEPT ALL {derived}) AS x",  # noqa: S608
        f"SELECT count(*) FROM ({derived} EXCEPT ALL {table}) AS x",  # noqa: S608
    )


async def differences(session: AsyncSession) -> tuple[int, int]:
    """Compare the rollup's rows with what request_outcomes gives (EXCEPT ALL both ways),
    cells and buckets together: (rows it should not hold, rows it lacks)."""
    extra = missing = 0
    for table, derived in ((_CELLS, _DERIVED_CELLS), (_BUCKETS, _DERIVED_BUCKETS)):
        extra_sql, missing_sql = _differing(table, derived)
        extra += int(await session.scalar(text(extra_sql)) or 0)
        missing += int(await session.scalar(text(missing_sql)) or 0)
    return extra, missing


REBUILD_STATEMENTS = (
    "LOCK TABLE request_outcome_rollups, request_outcome_histograms IN EXCLUSIVE MODE",
    "DELETE FROM request_outcome_histograms",
    "DELETE FROM request_outcome_rollups",
    f"INSERT INTO request_outcome_rollups ({_KEY_LIST}, {_COUNT_LIST}) {_DERIVED_CELLS}",
    f"INSERT INTO request_outcome_histograms ({_KEY_LIST}, stage, bucket, requests) "
    f"{_DERIVED_BUCKETS}",
)


async def rebuild(session: AsyncSession) -> None:
    """Recompute the whole rollup from request_outcomes, in the caller's transaction (after
    request_outcomes is rebuilt). Also what bench/analytics.py runs after loading outcomes."""
    for statement in REBUILD_STATEMENTS:
        await session.execute(text(statement))
