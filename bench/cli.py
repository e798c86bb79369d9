"""Run every measurement in order and print the report.

1. The bench database (``--database``) is recreated, migrated and seeded; serve starts.
2. Submit-to-push latency (dashboards connected), then intake throughput (dashboards closed).
3. The server stops; the floor is measured on the same database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.config import BenchConfig, parse_args
from bench.floor import run_floor
from bench.intake import run_intake
from bench.latency import run_latency
from bench.progress import progress
from bench.report import environment, ratios, warnings, write
from bench.stack import BenchError, cli_environment, migrate, recreate_database, seed, serving
from bench.workload import Credentials, request_body


def _client(base_url: str, config: BenchConfig) -> httpx.AsyncClient:
    connections = max(100, config.concurrency)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=30.0,
        trust_env=False,
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            # Below uvicorn's keep-alive timeout (5 s): a connection the server is closing
            # is never reused, which would fail a POST with no fault of relay247.
            keepalive_expiry=2.0,
        ),
    )


async def _measure_service(
    config: BenchConfig, env: dict[str, str], log: Path
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    await migrate(env)
    credentials = Credentials.from_seed(await seed(env))
    async with serving(env, log, config.workers) as base_url, _client(base_url, config) as client:
        latency, post = await run_latency(
            client,
            base_url,
            credentials,
            dashboards_count=config.dashboards,
            warmup=config.warmup,
            requests=config.requests,
            rate=config.rate,
            push_timeout_s=config.push_timeout_s,
        )
        intake = await run_intake(
            client,
            credentials,
            first=config.warmup + config.requests,
            count=config.intake_requests,
            concurrency=config.concurrency,
        )
    return latency, post, intake


async def run(config: BenchConfig, event_loop: str) -> dict[str, Any]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    database = await recreate_database(config.database)
    env_section = environment(database, event_loop)
    with cli_environment(database) as env:
        log = config.output.parent / "server.log"
        latency, post, intake = await _measure_service(config, env, log)
    floor = await run_floor(
        database.dsn,
        request_body("DE", 0),
        inserts=config.intake_requests,
        serial=config.floor_serial_inserts,
        concurrency=config.concurrency,
        frames=config.floor_ws_frames,
    )
    env_section["started_at"] = started_at
    env_section["duration_s"] = round(time.monotonic() - started, 1)
    return {
        "config": config.as_json(),
        "latency_ms": latency,
        "post_latency_ms": post,
        "intake": intake,
        "floor": floor,
        "ratios": ratios(latency, intake, floor),
        "warnings": warnings(config.rate, latency, post, intake),
        "environment": env_section,
    }


def _loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """uvloop when installed (it comes with uvicorn[standard]): less client overhead."""
    try:
        import uvloop
    except ImportError:
        return None, "asyncio"
    return uvloop.new_event_loop, f"uvloop {metadata.version('uvloop')}"


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    factory, event_loop = _loop_factory()
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            report = runner.run(run(config, event_loop))
    except (BenchError, OSError, asyncpg.PostgresError) as exc:
        progress(f"failed: {type(exc).__name__}: {exc}")
        return 1
    except KeyboardInterrupt:
        progress("interrupted; relay247 serve was stopped")
        return 130
    print(write(report, config.output))
    progress(f"report written to {config.output}")
    return 0
