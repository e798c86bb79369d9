"""The rollup's buckets and percentiles (app/analytics/rollup.py): the bucket Postgres gives a
duration lies within the bounds Python interpolates in, and an estimate stays within the
documented relative error of the nearest-rank percentile."""

from __future__ import annotations

import math
import random
import re
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from app.analytics import aggregates, rollup
from app.analytics.schemas import Dimension, Period
from app.identity.auth import Actor
from app.models.enums import AgencyKind, Role


async def test_the_bucket_postgres_gives_is_the_one_whose_bounds_hold_the_duration(
    db: asyncpg.Connection,
) -> None:
    edges = [0.0, -3.0, 0.5, 1.0, 1.0001, 2.0, 2.0001, 5_184_000.0, 5_300_000.0, 1e9]
    rng = random.Random(25)
    durations = edges + [rng.lognormvariate(7, 3) for _ in range(500)]
    expression = rollup.BUCKET_OF_SECONDS.format(s="s")
    rows = await db.fetch(
        f"SELECT s, {expression} AS bucket FROM unnest($1::float8[]) AS s",  # noqa: S608
        durations,
    )
    buckets = {row["s"]: row["bucket"] for row in rows}
    assert [buckets[value] for value in edges] == [0, 0, 0, 0, 1, 16, 17, 357, 358, 358]
    for seconds, bucket in buckets.items():
        assert 0 <= bucket <= rollup.OVERFLOW
        if bucket > 0:
            assert rollup.lower(bucket) < seconds <= rollup.upper(bucket), seconds
    assert rollup.LAST == 357
    assert rollup.upper(rollup.LAST) >= 60 * 86400


def test_percentiles_follow_the_documented_rule() -> None:
    assert rollup.percentile({}, 0.5) is None
    # Under a second: bucket 0, from 0 to 1 s; two values, the median at rank 1 of 2.
    assert rollup.percentile({0: 2}, 0.5) == 0.5
    # Past 60 days: the overflow bucket's lower bound, a floor.
    assert rollup.percentile({rollup.OVERFLOW: 3}, 0.9) == rollup.upper(rollup.LAST)
    # Rank 0.9 * 10 = 9: 8 below, so the 9th value's bucket 100, all of the way.
    assert rollup.percentile({10: 8, 100: 1, 200: 1}, 0.9) == pytest.approx(rollup.upper(100))


@pytest.mark.parametrize("q", [0.5, 0.9], ids=["p50", "p90"])
@pytest.mark.parametrize("n", [1, 7, 1000], ids=["one", "seven", "thousand"])
def test_an_estimate_is_within_the_bound_of_the_nearest_rank_percentile(q: float, n: int) -> None:
    rng = random.Random(n)
    durations = sorted(rng.lognormvariate(8, 2.5) for _ in range(n))
    durations = [min(max(value, 1.5), 5_000_000.0) for value in durations]  # 1 s to 60 days
    histogram: dict[int, int] = {}
    for value in durations:
        bucket = math.ceil(rollup.SUBDIVISIONS * math.log2(value))
        histogram[bucket] = histogram.get(bucket, 0) + 1
    nearest = durations[math.ceil(q * n) - 1]
    estimate = rollup.percentile(histogram, q)
    assert estimate is not None
    assert abs(estimate - nearest) < rollup.RELATIVE_ERROR * nearest


@pytest.mark.parametrize(
    ("group_by", "period", "start", "grain"),
    [
        ([Dimension.TARGET_COUNTRY], Period.MONTH, None, "total"),
        ([Dimension.TARGET_COUNTRY, Dimension.PRIORITY], Period.MONTH, None, "total"),
        ([Dimension.TYPE, Dimension.PRIORITY], Period.MONTH, None, "total"),
        ([Dimension.PERIOD], Period.MONTH, None, "month"),
        ([Dimension.REQUESTING_COUNTRY, Dimension.PERIOD], Period.MONTH, "2026-03-01", "month"),
        ([Dimension.TARGET_COUNTRY], Period.MONTH, "2026-03-01", "month"),
        ([Dimension.TARGET_COUNTRY], Period.MONTH, "2026-03-02", "day"),
        ([Dimension.PERIOD], Period.WEEK, None, "day"),
        ([Dimension.TARGET_COUNTRY, Dimension.PRIORITY], Period.MONTH, "2026-03-01", "day"),
        ([Dimension.TYPE], Period.MONTH, "2026-03-01", "day"),
    ],
    ids=[
        "pair-all-time", "priority-all-time", "type-all-time", "by-month", "pair-by-month",
        "pair-from-a-month", "mid-month", "by-week", "priority-from-a-month", "type",
    ],
)  # fmt: skip
def test_a_query_reads_the_coarsest_grain_that_answers_it(
    group_by: list[Dimension], period: Period, start: str | None, grain: str
) -> None:
    actor = Actor(
        principal_id=uuid.uuid4(), token_id=uuid.uuid4(), agency_id=uuid.uuid4(),
        country="FR", role=Role.NCB, name="NCB", agency_kind=AgencyKind.NCB,
    )  # fmt: skip
    begin = None if start is None else datetime.fromisoformat(start).replace(tzinfo=UTC)
    query = aggregates.Query(group_by=group_by, period=period, start=begin)
    tables = {
        table
        for statement in aggregates.statements(actor, query)
        for table in re.findall(r"\brequest_outcome_\w+", str(statement))
    }
    expected = {
        "total": {"request_outcome_totals", "request_outcome_total_histograms"},
        "month": {"request_outcome_month_rollups", "request_outcome_month_histograms"},
        "day": {"request_outcome_rollups", "request_outcome_histograms"},
    }
    assert tables == expected[grain]
