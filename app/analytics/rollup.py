"""The rollup the aggregates read: per cell (final requests submitted on one UTC day, from one
agency, so one country, to one target country, of one type and priority) their counts
(request_outcome_rollups) and, per stage, a histogram of their durations over fixed
log-spaced buckets (request_outcome_histograms, one row per non-empty bucket). The same at
two coarser grains (:data:`LEVELS`): per month and country pair (and agency), and over all
time per the day's key less the day (whose cells also carry what /metrics shows).

Kept in the transaction that writes or deletes a request's request_outcomes row
(:func:`subtract` before, :func:`add` after, app/analytics/outcomes.py ``refresh``), derived
from request_outcomes only, so ``relay247 analytics rebuild`` recomputes it (:func:`rebuild`)
and ``--check`` compares it (:func:`differences`).

Contention, on purpose: every request made final on the same day for the same cell updates
the same rows, and the first to do so holds their lock until it commits. A second one waits
for the first's commit (milliseconds); cells are narrow (one agency, one target, one type and
priority), so this only meets requests of one sender to one country on one day. The
coarser grains' cells are wider in time (a month; all time for one type and priority), so
their rows are shared by more requests, still of one sending agency to one country; every
writer locks the levels in one order (day, month, total), cell before buckets.

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
from dataclasses import dataclass

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.outcome_rollup import metric_columns

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


def _metric_count(name: str) -> str:
    """What one row adds to a metric column of app/models/outcome_rollup.py metric_columns:
    ``{stage}_le_{bound}``, ``{stage}_count`` or ``{stage}_micros`` (its duration in whole
    microseconds: durations are differences of timestamps, so exact)."""
    stage, _, figure = name.partition("_")
    seconds = f"o.{stage}_seconds"
    if figure == "count":
        return f"CASE WHEN {seconds} IS NOT NULL THEN 1 ELSE 0 END"
    if figure == "micros":
        return f"coalesce(round({seconds} * 1000000)::bigint, 0)"
    return f"CASE WHEN {seconds} <= {int(figure.removeprefix('le_'))} THEN 1 ELSE 0 END"


METRIC_COUNTS = {name: _metric_count(name) for name in metric_columns()}
# The stages' durations of one row, one row each (NULL: the request never reached it).
_STAGES = (
    "CROSS JOIN LATERAL (VALUES ('deliver', o.deliver_seconds), "
    "('acknowledge', o.acknowledge_seconds), ('respond', o.respond_seconds), "
    "('close', o.close_seconds)) AS s(stage, seconds)"
)
_BUCKET = BUCKET_OF_SECONDS.format(s="s.seconds")
_UTC_DAY = "(o.created_at AT TIME ZONE 'UTC')::date"
_OWNERS = ("target_country", "requesting_country", "requesting_agency_id")


@dataclass(frozen=True, slots=True)
class Level:
    """One grain of the rollup: its two tables and what keys a cell, each key column with
    its value from a request_outcomes row (o)."""

    cells: str
    buckets: str
    key: tuple[tuple[str, str], ...]
    # Each count column of a cell, with what one row adds to it.
    counts: tuple[tuple[str, str], ...] = tuple(COUNTS.items())

    @property
    def columns(self) -> str:
        return ", ".join(name for name, _ in self.key)

    @property
    def count_list(self) -> str:
        return ", ".join(name for name, _ in self.counts)

    def of_outcome(self, *, named: bool = False) -> str:
        return ", ".join(f"{value} AS {name}" if named else value for name, value in self.key)


# The cells the aggregates read by default: one UTC day, agency, target, type and priority.
DAY = Level(
    "request_outcome_rollups",
    "request_outcome_histograms",
    (("day", _UTC_DAY), *((name, f"o.{name}") for name in (*_OWNERS, "type", "priority"))),
)
# Coarser, for what needs neither type, priority nor a day's grain (a whole month, by
# country pair): 24 months of 30 pairs hold some 385,000 bucket rows where the days hold
# 3.6 million (bench, 1,000,000 requests).
MONTH = Level(
    "request_outcome_month_rollups",
    "request_outcome_month_histograms",
    (
        ("month", f"date_trunc('month', {_UTC_DAY})::date"),
        *((name, f"o.{name}") for name in _OWNERS),
    ),
)
# All time, by the day's key less the day: for what has no `from`/`to` and no period (some
# 190,000 bucket rows at the bench's 1,000,000 requests, and a fixed number of cells however
# long the history, so /metrics reads it too: its cells carry the metric columns).
TOTAL = Level(
    "request_outcome_totals",
    "request_outcome_total_histograms",
    tuple((name, f"o.{name}") for name in (*_OWNERS, "type", "priority")),
    tuple(COUNTS.items()) + tuple(METRIC_COUNTS.items()),
)
LEVELS = (DAY, MONTH, TOTAL)


def _apply(level: Level) -> TextClause:
    """One request's contribution, times :sign (1 to add, -1 to subtract), in one statement.
    The buckets' INSERT reads the cell's CTE (an init plan) so that the cell's row is always
    locked first, then its buckets: every writer of a cell takes its locks in one order."""
    key, of_outcome = level.columns, level.of_outcome()
    signed = ", ".join(f":sign * {expression}" for _, expression in level.counts)
    added = ", ".join(f"{c} = {level.cells}.{c} + excluded.{c}" for c, _ in level.counts)
    return text(f"""
WITH cell AS (
    INSERT INTO {level.cells} ({key}, {level.count_list})
    SELECT {of_outcome}, {signed} FROM request_outcomes o WHERE o.request_id = :request_id
    ON CONFLICT ({key}) DO UPDATE SET {added}
    RETURNING 1
)
INSERT INTO {level.buckets} ({key}, stage, bucket, requests)
SELECT {of_outcome}, s.stage, {_BUCKET}, :sign
FROM request_outcomes o {_STAGES}
WHERE o.request_id = :request_id AND s.seconds IS NOT NULL AND (SELECT count(*) FROM cell) > 0
ON CONFLICT ({key}, stage, bucket) DO UPDATE SET
    requests = {level.buckets}.requests + excluded.requests
""")  # noqa: S608 (this module's constants only)


def _prune(level: Level) -> TextClause:
    """After a subtraction: a cell or bucket that counts nobody is no row (as the rebuild
    gives); the cell first again (read by the main DELETE, the CTE runs before it)."""
    same = " AND ".join(f"t.{name} = c.{name}" for name, _ in level.key)
    return text(f"""
WITH c AS (
    SELECT {level.of_outcome(named=True)} FROM request_outcomes o
    WHERE o.request_id = :request_id
),
emptied AS (
    DELETE FROM {level.cells} t USING c WHERE {same} AND t.requests = 0 RETURNING 1
)
DELETE FROM {level.buckets} t USING c
WHERE {same} AND t.requests = 0 AND (SELECT count(*) FROM emptied) >= 0
""")  # noqa: S608


_APPLY = {level: _apply(level) for level in LEVELS}
_PRUNE = {level: _prune(level) for level in LEVELS}


async def subtract(session: AsyncSession, request_id: uuid.UUID) -> None:
    """Take the request's request_outcomes row (if any) out of the rollup: call before the
    row is deleted. Levels in one order (day, month, total), as every writer."""
    for level in LEVELS:
        await session.execute(_APPLY[level], {"request_id": request_id, "sign": -1})
        await session.execute(_PRUNE[level], {"request_id": request_id})


async def add(session: AsyncSession, request_id: uuid.UUID) -> None:
    """Count the request's request_outcomes row (if any) in the rollup: call after it is
    written."""
    for level in LEVELS:
        await session.execute(_APPLY[level], {"request_id": request_id, "sign": 1})


_TYPES = {name: kind for name, kind in metric_columns().items() if kind != "integer"}


def _derived_cells(level: Level, *, ordered: bool = False) -> str:
    """The level's cells from request_outcomes; ``ordered``: in the key's order (the
    rebuild's, so that a table is written in the order of its key: a range of days, the
    key's first column, then lies on adjacent pages, not on every page of the table)."""
    sums = ", ".join(f"sum({e})::{_TYPES.get(name, 'int')}" for name, e in level.counts)
    of_outcome = level.of_outcome()
    order = f" ORDER BY {of_outcome}" if ordered else ""
    return f"SELECT {of_outcome}, {sums} FROM request_outcomes o GROUP BY {of_outcome}{order}"  # noqa: S608


def _derived_buckets(level: Level, *, ordered: bool = False) -> str:
    of_outcome = level.of_outcome()
    group = f"{of_outcome}, s.stage, {_BUCKET}"
    return " ".join(
        (
            f"SELECT {of_outcome}, s.stage, {_BUCKET}, count(*)::int",
            f"FROM request_outcomes o {_STAGES} WHERE s.seconds IS NOT NULL",
            f"GROUP BY {group}" + (f" ORDER BY {group}" if ordered else ""),
        )
    )


def _tables(level: Level) -> tuple[str, str]:
    return (
        f"SELECT {level.columns}, {level.count_list} FROM {level.cells}",  # noqa: S608
        f"SELECT {level.columns}, stage, bucket, requests FROM {level.buckets}",  # noqa: S608
    )


async def differences(session: AsyncSession) -> tuple[int, int]:
    """Compare the rollup's rows with what request_outcomes gives (EXCEPT ALL both ways),
    every level's cells and buckets together: (rows it should not hold, rows it lacks)."""
    extra = missing = 0
    for level in LEVELS:
        cells, buckets = _tables(level)
        for table, derived in ((cells, _derived_cells(level)), (buckets, _derived_buckets(level))):
            extra_sql = f"SELECT count(*) FROM ({table} EXCEPT ALL {derived}) AS x"  # noqa: S608
            missing_sql = f"SELECT count(*) FROM ({derived} EXCEPT ALL {table}) AS x"  # noqa: S608
            extra += int(await session.scalar(text(extra_sql)) or 0)
            missing += int(await session.scalar(text(missing_sql)) or 0)
    return extra, missing


DAY_RANGE_INDEX = "ix_request_outcome_histograms_day"


def _rebuild_statements() -> tuple[str, ...]:
    tables = [table for level in LEVELS for table in (level.cells, level.buckets)]
    statements = [f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE"]
    for level in LEVELS:
        statements += [f"DELETE FROM {level.buckets}", f"DELETE FROM {level.cells}"]  # noqa: S608
        statements.append(
            f"INSERT INTO {level.cells} ({level.columns}, {level.count_list}) "
            f"{_derived_cells(level, ordered=True)}"
        )
        statements.append(
            f"INSERT INTO {level.buckets} ({level.columns}, stage, bucket, requests) "
            f"{_derived_buckets(level, ordered=True)}"
        )
    # The day buckets' block range index (app/models/outcome_rollup.py) covers the pages just
    # written only once summarized: until then a range of days would read every page of the
    # table. Only the index's owner may summarize it; as the service's role (docs/audit-
    # chain.md), which owns nothing, autovacuum does it later (the index's autosummarize).
    statements.append(
        f"DO $$ BEGIN PERFORM brin_summarize_new_values('{DAY_RANGE_INDEX}'); "
        "EXCEPTION WHEN insufficient_privilege THEN NULL; END $$"
    )
    return tuple(statements)


REBUILD_STATEMENTS = _rebuild_statements()
ROLLUP_TABLES = tuple(table for level in LEVELS for table in (level.cells, level.buckets))


async def rebuild(session: AsyncSession) -> None:
    """Recompute the whole rollup from request_outcomes, in the caller's transaction (after
    request_outcomes is rebuilt). Also what bench/analytics.py runs after loading outcomes."""
    for statement in REBUILD_STATEMENTS:
        await session.execute(text(statement))
