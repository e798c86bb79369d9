"""Response analytics: GET /v1/analytics/responses over ``N`` final requests (1,000,000 by
default), as the global desk's and an NCB's analytics page and a report would ask it.

The figures are written straight into request_outcomes with COPY (what the service writes as
each request becomes final; derived rows, so they name no row of ``requests``: the setup runs
with session_replication_role = replica, which skips the foreign key, and no query of the
aggregates joins requests). A seeded random spread: the demo's six countries each sending to
the five others over the last two years; mostly routine; times to deliver, acknowledge,
respond and close from skewed distributions; a tenth escalated, a few clocks breached. The
rollup the aggregates read is then built from them by the statements of ``relay247
analytics rebuild`` (app/analytics/rollup.py).

Each query shape is asked ``rounds`` times, as one role, over real HTTP against a real
``relay247 serve``: p50/p99 per shape, against a 300 ms p99 budget. Two floors, measured in
the same run on the same rows: the very statements the service runs (app/analytics/
aggregates.py: the counts and the histograms, one after the other), asked by asyncpg
directly, and a bare ``count(*)`` over request_outcomes.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.dialects import postgresql

from app.analytics import aggregates, rollup
from app.analytics.outcomes import COLUMNS
from app.analytics.schemas import Dimension, Period
from app.identity.auth import Actor
from app.models.enums import AgencyKind, Role
from bench.config import BenchConfig
from bench.progress import progress
from bench.request_search import actor_of
from bench.stack import BenchDatabase, serving
from bench.stats import summarize_ms

ANALYTICS_LOGS = ("server-analytics.log",)
BUDGET_MS = 300.0  # issue 25: p99 at most 300 ms over 1,000,000 final requests
WARMUP = 3
_TYPES = ("preservation", "traffic_data", "subscriber_info", "emergency_disclosure")
_PRIORITIES = (("emergency", 0.05), ("urgent", 0.25), ("routine", 0.70))


def _rows(seeded: Mapping[str, Any], count: int) -> Iterator[tuple[Any, ...]]:
    """``count`` outcome rows in COLUMNS' order, from a fixed seed."""
    rng = random.Random(25)
    countries = seeded["countries"]
    codes = list(countries)
    agencies = {code: uuid.UUID(countries[code]["unit"]["agency_id"]) for code in codes}
    now = datetime.now(UTC)
    priorities = [name for name, _ in _PRIORITIES]
    weights = [weight for _, weight in _PRIORITIES]
    for _ in range(count):
        sender = rng.choice(codes)
        target = rng.choice([code for code in codes if code != sender])
        created = now - timedelta(seconds=rng.random() * 730 * 86400)
        delivered = rng.lognormvariate(3.5, 1.0) if rng.random() < 0.95 else None
        acknowledged = rng.lognormvariate(6.5, 1.2) if rng.random() < 0.9 else None
        responded = rng.lognormvariate(10.5, 1.0) if acknowledged is not None else None
        closed = (responded or acknowledged or 600.0) + rng.lognormvariate(9, 1.0)
        breached = rng.random() < 0.08
        status = "closed" if responded is not None else rng.choice(("declined", "cancelled"))
        yield (
            uuid.uuid4(), status, rng.choice(_TYPES),
            rng.choices(priorities, weights)[0], agencies[sender], sender, target,
            created, created + timedelta(seconds=closed),
            delivered, acknowledged, responded, closed,
            2 if rng.random() < 0.03 else 1 if rng.random() < 0.1 else 0, rng.random() < 0.01,
            "breached" if breached else "met" if responded is not None else "not_due",
            -rng.random() * 7200 if breached else rng.random() * 86400,
            None if acknowledged is None else acknowledged < 900,
            None if acknowledged is None else rng.random() < 0.6,
        )  # fmt: skip


async def _load(dsn: str, seeded: Mapping[str, Any], count: int) -> float:
    """COPY ``count`` outcome rows in and build the rollup from them; the seconds it took
    (with ANALYZE)."""
    started = time.monotonic()
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.copy_records_to_table(
                "request_outcomes", records=_rows(seeded, count), columns=list(COLUMNS)
            )
        await connection.execute("ANALYZE request_outcomes")
        # The rollup in bulk, by the very statements of `relay247 analytics rebuild`.
        async with connection.transaction():
            for statement in rollup.REBUILD_STATEMENTS:
                await connection.execute(statement)
        await connection.execute(f"ANALYZE {', '.join(rollup.ROLLUP_TABLES)}")
    finally:
        await connection.close()
    return time.monotonic() - started


def _shapes(seeded: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each query: who asks, the query string, and the same as an aggregates.Query."""
    de, fr = seeded["countries"]["DE"], seeded["countries"]["FR"]
    gs = (seeded["global_desk"], actor_of(seeded["global_desk"], Role.GS, "FR", AgencyKind.GS))
    ncb = (fr["ncb"], actor_of(fr["ncb"], Role.NCB, "FR", AgencyKind.NCB))
    desk = (
        de["contact_points"][0],
        actor_of(de["contact_points"][0], Role.CONTACT_POINT, "DE", AgencyKind.UNIT),
    )
    # The rollup is per UTC day: "the last 90 days" from a midnight, as the page asks.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=90)
    d = Dimension
    return [
        # The global desk's page: the whole network, by target, over everything.
        {"name": "gs_by_target_all", "who": gs, "group_by": [d.TARGET_COUNTRY]},
        {"name": "gs_by_month_all", "who": gs, "group_by": [d.PERIOD], "period": Period.MONTH},
        {
            "name": "gs_by_target_priority_90d",
            "who": gs,
            "group_by": [d.TARGET_COUNTRY, d.PRIORITY],
            "start": since,
        },
        # An NCB's page: its country both ways, by the other country.
        {"name": "ncb_received_by_sender", "who": ncb, "group_by": [d.REQUESTING_COUNTRY],
         "target_country": "FR"},
        {"name": "ncb_sent_by_target", "who": ncb, "group_by": [d.TARGET_COUNTRY],
         "requesting_country": "FR"},
        {"name": "ncb_by_week_90d", "who": ncb, "group_by": [d.PERIOD], "period": Period.WEEK,
         "start": since},
        {"name": "desk_by_type_priority", "who": desk, "group_by": [d.TYPE, d.PRIORITY]},
    ]  # fmt: skip


def _query(shape: Mapping[str, Any]) -> aggregates.Query:
    return aggregates.Query(
        group_by=shape["group_by"],
        period=shape.get("period", Period.MONTH),
        start=shape.get("start"),
        target_country=shape.get("target_country"),
        requesting_country=shape.get("requesting_country"),
    )


def _params(shape: Mapping[str, Any]) -> dict[str, str]:
    params = {"group_by": ",".join(shape["group_by"]), "period": shape.get("period", "month")}
    if "start" in shape:
        params["from"] = shape["start"].isoformat()
    for key in ("target_country", "requesting_country"):
        if key in shape:
            params[key] = shape[key]
    return params


async def _time_http(
    client: httpx.AsyncClient, token: str, params: dict[str, str], rounds: int
) -> tuple[list[float], int]:
    headers = {"Authorization": f"Bearer {token}"}
    samples: list[float] = []
    groups = 0
    for index in range(WARMUP + rounds):
        started = time.perf_counter()
        response = await client.get("/v1/analytics/responses", params=params, headers=headers)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        groups = len(response.json()["groups"])
        if index >= WARMUP:
            samples.append(elapsed)
    return samples, groups


async def time_statements(
    connection: asyncpg.Connection, statements: list[str], rounds: int
) -> list[float]:
    samples: list[float] = []
    for index in range(WARMUP + rounds):
        started = time.perf_counter()
        for sql in statements:
            await connection.fetch(sql)
        if index >= WARMUP:
            samples.append(time.perf_counter() - started)
    return samples


def _sql(actor: Actor, query: aggregates.Query) -> list[str]:
    dialect = postgresql.dialect()
    return [
        str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for statement in aggregates.statements(actor, query)
    ]


async def run_analytics(
    config: BenchConfig, database: BenchDatabase, env: Mapping[str, str], seeded: Mapping[str, Any]
) -> dict[str, Any]:
    """On a migrated and seeded database: load the outcomes, serve, time every shape and the
    floors."""
    count, rounds, log_dir = config.final_requests, config.analytics_rounds, config.output.parent
    progress(f"analytics: writing {count} final requests' outcomes (COPY)")
    load_s = await _load(database.dsn, seeded, count)
    progress(f"analytics: {count} outcomes written in {load_s:.1f}s")
    results: dict[str, Any] = {}
    connection = await asyncpg.connect(database.dsn)
    try:
        count_ms = summarize_ms(
            await time_statements(connection, ["SELECT count(*) FROM request_outcomes"], rounds)
        )
        progress(f"analytics floor count(*): p99 {count_ms['p99']} ms")
        async with (
            serving(env, Path(log_dir) / ANALYTICS_LOGS[0], 1) as server,
            httpx.AsyncClient(base_url=server.url, timeout=60.0, trust_env=False) as client,
        ):
            for shape in _shapes(seeded):
                party, actor = shape["who"]
                http_samples, groups = await _time_http(
                    client, party["token"], _params(shape), rounds
                )
                sql = _sql(actor, _query(shape))
                floor_ms = summarize_ms(await time_statements(connection, sql, rounds))
                http_ms = summarize_ms(http_samples)
                results[shape["name"]] = {
                    "role": actor.role.value,
                    "params": _params(shape),
                    "groups": groups,
                    "http_ms": http_ms,
                    "statement_floor_ms": floor_ms,
                }
                progress(
                    f"analytics {shape['name']}: p50 {http_ms['p50']} ms, p99 {http_ms['p99']} "
                    f"ms (statement p99 {floor_ms['p99']} ms, {groups} groups)"
                )
    finally:
        await connection.close()
    worst = max(float(shape["http_ms"]["p99"] or 0) for shape in results.values())
    return {
        "final_requests": count,
        "rounds": rounds,
        "load_s": round(load_s, 1),
        "count_floor_ms": count_ms,
        "budget_p99_ms": BUDGET_MS,
        "worst_p99_ms": worst,
        "within_budget": worst <= BUDGET_MS,
        "shapes": results,
    }


def analytics_ratios(section: Mapping[str, Any]) -> dict[str, Any]:
    """Each shape's p99 over the bare count's: what grouping and percentiles cost."""
    floor = section["count_floor_ms"]["p99"]
    return {
        f"analytics_{name}_p99_over_count": round(shape["http_ms"]["p99"] / floor, 2)
        for name, shape in section["shapes"].items()
        if floor
    }


def analytics_warnings(section: Mapping[str, Any]) -> list[str]:
    if section["within_budget"]:
        return []
    return [
        f"analytics: the slowest shape's p99 is {section['worst_p99_ms']} ms, over the "
        f"{BUDGET_MS:.0f} ms budget at {section['final_requests']} final requests"
    ]
