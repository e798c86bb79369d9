"""The response figures in /metrics: histograms of the times to deliver, acknowledge, respond
and close, and counts of escalations and of legal clocks met and breached, by priority.

They are counted from the rollup's all-time cells (the whole network's final requests, kept
from request_outcomes in the transaction that writes it), not observed as requests close:
every instance shows the same network-wide figures, a restart loses nothing, and nothing
depends on which instance took the action. Aggregate them across instances with
``max``, not ``sum``. No label names a request, a country or a principal: stage, priority and
the clock's outcome, a few series each.

A supervised loop recounts every RELAY247_ANALYTICS_METRICS_INTERVAL; the collector serves
the last count when scraped (a scrape never waits on the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import text

from app.analytics.rollup import TOTAL
from app.analytics.schemas import Stage
from app.core.database import Database
from app.core.supervisor import Heartbeat
from app.models import ClockOutcome
from app.models.enums import Priority
from app.models.outcome_rollup import METRIC_BOUNDS

# From a minute (a desk at its screen) to a month (a mutual assistance request's answer).
BUCKETS = METRIC_BOUNDS

# Read from the rollup's all-time cells (app/analytics/rollup.py TOTAL), which carry these
# figures per agency, target, type and priority: a fixed number of rows however long the
# history, where request_outcomes grows by every final request.
_SUMS = ", ".join(
    f"sum({column})::bigint AS {column}"
    for column in (
        *(f"{stage}_le_{bound}" for stage in Stage for bound in BUCKETS),
        *(f"{stage}_count" for stage in Stage),
        *(f"{stage}_micros" for stage in Stage),
        "escalated",
        "clock_met",
        "clock_breached",
    )
)
_COUNT = text(f"SELECT priority, {_SUMS} FROM {TOTAL.cells} GROUP BY priority")  # noqa: S608


@dataclass(slots=True)
class Counted:
    """One priority's figures at the last count."""

    buckets: dict[Stage, list[tuple[str, float]]] = field(default_factory=dict)
    sums: dict[Stage, float] = field(default_factory=dict)
    escalated: int = 0
    clocks: dict[ClockOutcome, int] = field(default_factory=dict)


class OutcomeMetrics(Collector):
    def __init__(self, database: Database | None = None, *, interval: float = 300.0) -> None:
        self._database = database
        self._interval = interval
        self._counted: dict[str, Counted] = {}

    def attach(self, database: Database, *, interval: float) -> None:
        """The database to count from, once the application has one (at its start)."""
        self._database = database
        self._interval = interval

    async def count(self) -> None:
        assert self._database is not None
        async with self._database.transaction() as session:
            rows = list(await session.execute(_COUNT))
        counted: dict[str, Counted] = {}
        for row in rows:
            values = row._mapping
            figures = Counted(escalated=values["escalated"])
            for stage in Stage:
                figures.buckets[stage] = [
                    (str(float(bound)), values[f"{stage}_le_{bound}"]) for bound in BUCKETS
                ] + [("+Inf", values[f"{stage}_count"])]
                figures.sums[stage] = values[f"{stage}_micros"] / 1_000_000
            figures.clocks = {
                ClockOutcome.MET: values["clock_met"],
                ClockOutcome.BREACHED: values["clock_breached"],
            }
            counted[values["priority"]] = figures
        self._counted = counted

    async def run(self, beat: Heartbeat) -> None:
        """The supervised loop: count, then again every interval."""
        while True:
            await self.count()
            beat()
            await asyncio.sleep(self._interval)

    def stall_bound(self) -> float:
        return 4 * self._interval + 60

    def describe(self) -> Iterable[Metric]:
        return self._families({})

    def collect(self) -> Iterable[Metric]:
        return self._families(self._counted)

    @staticmethod
    def _families(counted: dict[str, Counted]) -> list[Metric]:
        seconds = HistogramMetricFamily(
            "relay247_request_response_seconds",
            "Final requests' time from submission to each stage (deliver, acknowledge, "
            "respond, close), by priority; network-wide, the same on every instance.",
            labels=["stage", "priority"],
        )
        escalated = CounterMetricFamily(
            "relay247_requests_escalated",
            "Final requests that escalated past the first step, by priority (network-wide).",
            labels=["priority"],
        )
        clocks = CounterMetricFamily(
            "relay247_request_clocks",
            "Final requests' legal response clocks, met or breached, by priority (network-wide).",
            labels=["priority", "outcome"],
        )
        for priority in Priority:
            figures = counted.get(priority.value)
            if figures is None:
                continue
            for stage in Stage:
                seconds.add_metric(
                    [stage.value, priority.value],
                    buckets=figures.buckets[stage],
                    sum_value=figures.sums[stage],
                )
            escalated.add_metric([priority.value], figures.escalated)
            for outcome, number in figures.clocks.items():
                clocks.add_metric([priority.value, outcome.value], number)
        return [seconds, escalated, clocks]
