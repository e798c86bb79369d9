"""The report: environment, ratios to the floor, and where it is written."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.stack import BenchDatabase


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(database: BenchDatabase, event_loop: str) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "event_loop": event_loop,
        "postgres_version": database.server_version,
        "postgres_durability": database.durability,
        "embedded_postgres": database.embedded,
        "database": database.display_url,
        "versions": {p: _version(p) for p in ("relay247", "httpx", "websockets", "asyncpg")},
    }


def _ratio(numerator: Any, denominator: Any, digits: int = 2) -> float | None:
    if not numerator or not denominator:
        return None
    return round(float(numerator) / float(denominator), digits)


def _floor_sum(insert: dict[str, Any], ws: dict[str, Any], q: str) -> float | None:
    if insert[q] is None or ws[q] is None:
        return None
    return round(float(insert[q]) + float(ws[q]), 3)


def ratios(
    latency: dict[str, Any], intake: dict[str, Any], floor: dict[str, Any]
) -> dict[str, Any]:
    """relay247 over the floor (1.0 would be the floor itself; lower is better for latency,
    higher is better for throughput). Floor latency = insert+commit + WebSocket frame, adding
    the percentiles of each (a slight overestimate of the floor at p99)."""
    ws = floor["websocket"]["latency_ms"]
    idle = {q: _floor_sum(floor["insert_serial"]["latency_ms"], ws, q) for q in ("p50", "p99")}
    loaded = {q: _floor_sum(floor["insert"]["latency_ms"], ws, q) for q in ("p50", "p99")}
    return {
        "floor_latency_ms": idle,
        "push_p50_over_floor_p50": _ratio(latency["p50"], idle["p50"]),
        "push_p99_over_floor_p99": _ratio(latency["p99"], idle["p99"]),
        "loaded_floor_latency_ms": loaded,
        "push_p50_over_loaded_floor_p50": _ratio(latency["p50"], loaded["p50"]),
        "push_p99_over_loaded_floor_p99": _ratio(latency["p99"], loaded["p99"]),
        "intake_over_floor_inserts": _ratio(
            intake["requests_per_s"], floor["insert"]["inserts_per_s"], digits=4
        ),
        "basis": (
            "floor_latency = serial insert+commit + websocket frame (idle server); "
            "loaded_floor_latency uses the insert latency at the intake concurrency; "
            "intake ratio = relay247 requests/s over bare inserts/s at the same concurrency"
        ),
    }


def warnings(
    rate: float, latency: dict[str, Any], post: dict[str, Any], intake: dict[str, Any]
) -> list[str]:
    """What a reader of the figures must know: saturation, a late load generator, losses."""
    notes = []
    completed = post["completed_rate_per_s"]
    if completed is not None and completed < 0.95 * rate:
        notes.append(
            f"relay247 did not keep up with {rate:g} POST/s (it completed {completed}/s): the "
            "latency figures include queueing; lower --rate to measure below saturation"
        )
    lag = post["schedule_lag_ms"]["p99"]
    if lag is not None and lag > 20:
        notes.append(f"the load generator fell behind its schedule (lag p99 {lag} ms)")
    if latency["missing"] or latency["late"]:
        notes.append(
            f"{latency['missing']} pushes never arrived and {latency['late']} came later than "
            f"{latency['timeout_s']:g}s"
        )
    if latency["wrong_channel"] or latency["dashboards_dropped"]:
        notes.append(
            f"{latency['wrong_channel']} pushes on a foreign channel, "
            f"{latency['dashboards_dropped']} dashboards closed by the server"
        )
    failed = post["failed"] + intake["failed"]
    if failed:
        notes.append(f"{failed} POSTs failed: {post['outcomes']} / {intake['outcomes']}")
    return notes


def write(report: dict[str, Any], path: Path) -> str:
    text = json.dumps(report, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return text
