"""Cyber analytical reports: the network's report generated over ``N`` final requests (the
analytics bench's rows: 1,000,000 by default), as the global desk asks it (POST /v1/reports,
over real HTTP against a real ``relay247 serve``): read the figures, draw the PDF, write the
CSV, sign the manifest, store it all and audit it, in one transaction.

Two periods: the last complete month (what the worker makes every month) and the last 366
days (the longest an on-demand report covers). The floor, measured in the same run on the
same rows: the statements the report asks (app/reports/content.py ``queries``, as
app/analytics/aggregates.py compiles them for the global desk, and the volumes' count of
submitted requests, over as many requests written as the search bench writes them), run bare
by asyncpg one after another; the ratio says what the drawing, signing and storing add to
reading the figures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.dialects import postgresql

from app.analytics import aggregates
from app.models.enums import AgencyKind, Role
from app.reports import content, periods
from app.reports.schemas import ReportKind
from bench.analytics import _load, time_statements
from bench.config import BenchConfig
from bench.progress import progress
from bench.request_search import actor_of, load_requests
from bench.stack import BenchDatabase, serving
from bench.stats import summarize_ms

REPORTS_LOGS = ("server-reports.log",)
WARMUP = 1


def _periods(today: date) -> dict[str, tuple[date, date]]:
    return {
        "month": periods.last_complete(ReportKind.MONTHLY, today),
        "year": (today - timedelta(days=365), today + timedelta(days=1)),
    }


async def _time_generation(
    client: httpx.AsyncClient, token: str, start: date, end: date, rounds: int
) -> tuple[list[float], dict[str, int]]:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"scope": "network", "from": start.isoformat(), "to": end.isoformat()}
    samples: list[float] = []
    sizes: dict[str, int] = {}
    for index in range(WARMUP + rounds):
        started = time.perf_counter()
        response = await client.post("/v1/reports", json=body, headers=headers)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        if index >= WARMUP:
            samples.append(elapsed)
        if index == 0:
            report = response.json()
            for part in ("pdf", "csv"):
                got = await client.get(report["links"][part], headers=headers)
                got.raise_for_status()
                sizes[f"{part}_bytes"] = len(got.content)
    return samples, sizes


def _statements(seeded: Mapping[str, Any], start: date, end: date) -> list[str]:
    actor = actor_of(seeded["global_desk"], Role.GS, "FR", AgencyKind.GS)
    dialect = postgresql.dialect()
    statements = [
        *(
            statement
            for query in content.queries(start, end).values()
            for statement in aggregates.statements(actor, query)
        ),
        content.submitted_statement(actor, periods.midnight(start), periods.midnight(end)),
    ]
    return [
        str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for statement in statements
    ]


async def run_reports(
    config: BenchConfig, database: BenchDatabase, env: Mapping[str, str], seeded: Mapping[str, Any]
) -> dict[str, Any]:
    count, rounds = config.final_requests, config.analytics_rounds
    progress(f"reports: writing {count} final requests' outcomes (COPY)")
    load_s = await _load(database.dsn, seeded, count)
    progress(f"reports: {count} outcomes written in {load_s:.1f}s; {count} requests next")
    # The volumes count submitted requests themselves (open or final): as many, spread over
    # two years, as the search bench writes them.
    load_s += await load_requests(database.dsn, seeded, count)
    today = datetime.now(UTC).date()
    results: dict[str, Any] = {}
    connection = await asyncpg.connect(database.dsn)
    try:
        async with (
            serving(env, Path(config.output.parent) / REPORTS_LOGS[0], 1) as server,
            httpx.AsyncClient(base_url=server.url, timeout=120.0, trust_env=False) as client,
        ):
            for name, (start, end) in _periods(today).items():
                samples, sizes = await _time_generation(
                    client, seeded["global_desk"]["token"], start, end, rounds
                )
                floor = summarize_ms(
                    await time_statements(connection, _statements(seeded, start, end), rounds)
                )
                generation = summarize_ms(samples)
                results[name] = {
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "generation_ms": generation,
                    "aggregate_floor_ms": floor,
                    **sizes,
                }
                progress(
                    f"reports network {name}: p50 {generation['p50']} ms, p99 "
                    f"{generation['p99']} ms (aggregates bare p50 {floor['p50']} ms)"
                )
    finally:
        await connection.close()
    return {"final_requests": count, "rounds": rounds, "load_s": round(load_s, 1), **results}


def reports_ratios(section: Mapping[str, Any]) -> dict[str, Any]:
    """Each period's generation p50 over its aggregates' bare p50."""
    ratios = {}
    for name in ("month", "year"):
        floor = section[name]["aggregate_floor_ms"]["p50"]
        if floor:
            ratios[f"reports_network_{name}_p50_over_aggregates"] = round(
                section[name]["generation_ms"]["p50"] / floor, 2
            )
    return ratios
