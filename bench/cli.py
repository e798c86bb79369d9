"""Run every measurement in order and print the report.

1. The bench database (``--database``) is recreated, migrated and seeded; serve starts.
2. On that one server: submit-to-push latency (50 dashboards), memory per idle socket,
   fan-out to one desk, resume of missed events, evidence files (50 MiB up and down, with
   their floor), intake (Python client, then wrk) with the CPU each side spends, and last the
   overload, which leaves the server the most disturbed.
3. It stops; two fresh servers on the same database measure submit-to-push across them.
4. Two more pairs of servers measure acknowledgement deadlines: lateness of a burst, and a
   survivor's takeover of an instance killed with SIGKILL (bench/deadlines.py); then the
   outbox: webhook sends/s against a floor, a black-holed endpoint, and how soon a burst of
   escalations reaches a person by e-mail, Web Push, gateway and webhook (bench/outbox.py).
5. The floor is measured on the same database, with no relay247 running.
6. The servers' logs are scanned for errors no client may have seen.
7. Audit exports (bench/audit_export.py): a trail of a million sealed entries (--audit-entries)
   exported through the API on a server of its own and verified offline, with their floors.
8. Last, after the floor: the all-requests search (bench/request_search.py), 100,000 requests
   (--search-requests) written straight into Postgres, then filtered GET /v1/requests as
   five roles, p50/p99 per query shape beside the same statement asked by asyncpg.
9. Then matching (bench/matching.py): submit with and without identifiers over 1,000,000
   stored indicator values, then the lookup of a request's identifiers among --indicators
   (10,000,000) beside the same statement asked by asyncpg.

``--only files`` runs step 1 and the evidence files measurement alone; ``--only deadlines``
step 1 and the deadlines measurement (with its floor); ``--only audit`` the audit chain's
cost on intake and its sealing lag (bench/audit.py, with its floor; after the deadlines
in a full run, on two servers and two databases of its own); ``--only audit_export`` step 1
and the audit exports; ``--only search`` the search (step 8) alone; ``--only match`` step 9
alone; ``--only analytics`` the response analytics query over --final-requests final requests
(bench/analytics.py, 1,000,000 by default) with its floors, alone (not in a full run).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.core.settings import RealtimeSettings
from bench.analytics import ANALYTICS_LOGS, analytics_ratios, analytics_warnings, run_analytics
from bench.audit import AUDIT_LOGS, run_audit, run_audit_only
from bench.audit_export import audit_export_ratios, audit_export_warnings, run_audit_export
from bench.config import BenchConfig, parse_args
from bench.cpu import CpuMeter, cpu_section
from bench.dashboard import run_dashboard
from bench.deadlines import (
    DEADLINE_LOGS,
    deadlines_ratios,
    deadlines_warnings,
    run_deadlines,
)
from bench.fanout import run_fanout
from bench.files import files_ratios, files_warnings, run_files
from bench.floor import ResumeSpan, run_floor
from bench.instances import run_instances
from bench.intake import run_intake
from bench.latency import run_latency
from bench.logs import scan_all
from bench.matching import MATCH_LOGS, matching_ratios, matching_warnings, run_matching
from bench.memory import run_memory
from bench.outbox import OUTBOX_LOGS, outbox_ratios, run_outbox
from bench.overload import run_overload
from bench.proc import at_least, raise_open_files_limit
from bench.progress import progress
from bench.report import environment, ratios, warnings, write
from bench.reports import REPORTS_LOGS, reports_ratios, run_reports
from bench.request_search import SEARCH_LOGS, run_search, search_ratios, search_warnings
from bench.resume import run_resume
from bench.shared_intake import run_shared_intake
from bench.stack import (
    BenchDatabase,
    BenchError,
    Server,
    cli_environment,
    migrate,
    recreate_database,
    seed,
    serving,
)
from bench.submit import http_client
from bench.workload import Credentials, request_body
from bench.wrk import run_wrk

OVERLOAD_CONNECTIONS = 1000  # the overload client's pool: the server, not it, sees the excess
FANOUT_WARMUP = 2  # fan-outs before the measured ones
# Between the dashboard measurement's POSTs: one request at a time, as a desk receives them.
DASHBOARD_GAP_S = 0.05


async def _intake_and_overload(
    config: BenchConfig,
    server: Server,
    client: httpx.AsyncClient,
    credentials: Credentials,
    database: BenchDatabase,
) -> dict[str, Any]:
    """Intake with the Python client, then with wrk, the CPU of each; then the overload at
    a multiple of the better of the two."""
    async with CpuMeter(server.pid, database.dsn) as python_cpu:
        intake = await run_intake(
            client,
            credentials,
            first=config.warmup + config.requests,
            count=config.intake_requests,
            concurrency=config.concurrency,
        )
    intake_wrk, wrk_cpu = await run_wrk(
        server,
        credentials,
        duration_s=config.wrk_s,
        connections=config.concurrency,
        postgres_dsn=database.dsn,
    )
    cpu = cpu_section(intake, python_cpu, intake_wrk, wrk_cpu)
    sustained, basis = intake["requests_per_s"], "intake (Python client)"
    if intake_wrk.get("requests_per_s", 0) > sustained:
        sustained, basis = intake_wrk["requests_per_s"], "intake_wrk"
    overload = await run_overload(
        server,
        credentials,
        sustained_per_s=sustained,
        basis=basis,
        factor=config.overload_factor,
        duration_s=config.overload_s,
        connections=OVERLOAD_CONNECTIONS,
        postgres_dsn=database.dsn,
    )
    return {"intake": intake, "intake_wrk": intake_wrk, "cpu": cpu, "overload": overload}


async def _measure_service(
    config: BenchConfig, database: BenchDatabase, env: dict[str, str], log_dir: Path
) -> tuple[dict[str, Any], ResumeSpan, dict[str, Any]]:
    await migrate(env)
    seeded = await seed(env)
    credentials = Credentials.from_seed(seeded)
    countries = credentials.countries
    sections: dict[str, Any] = {}
    async with (
        serving(env, log_dir / "server.log", config.workers) as server,
        http_client(server.url, max(100, config.concurrency)) as client,
    ):
        # First, while the desk's queue is empty: the page shows what it was sent here only.
        sections["dashboard"] = await _dashboard(config, server, client, credentials)
        sections["latency_ms"], sections["post_latency_ms"] = await run_latency(
            client,
            server.url,
            credentials,
            dashboards_count=config.dashboards,
            warmup=config.warmup,
            requests=config.requests,
            rate=config.rate,
            push_timeout_s=config.push_timeout_s,
        )
        sections["memory"] = await run_memory(server, credentials, sockets=config.idle_sockets)
        sections["fanout"] = await run_fanout(
            client,
            server,
            credentials,
            country=countries[1],
            sockets=config.fanout_sockets,
            events=config.fanout_events,
            warmup=FANOUT_WARMUP,
            timeout_s=config.push_timeout_s,
            postgres_dsn=database.dsn,
        )
        sections["resume"], span = await run_resume(
            database.dsn,
            server,
            credentials,
            country=countries[-1],
            count=config.resume_events,
            timeout_s=max(60.0, config.resume_events / 100),
        )
        sections["files"] = await run_files(
            server, credentials, database.dsn, rounds=config.file_rounds
        )
        sections |= await _intake_and_overload(config, server, client, credentials, database)
    sections["instances"] = await run_instances(
        env,
        log_dir,
        credentials,
        workers=config.workers,
        dashboards=config.dashboards,
        warmup=config.warmup,
        requests=config.instance_requests,
        rate=config.rate,
        push_timeout_s=config.push_timeout_s,
        connections=max(100, config.concurrency),
    )
    sections["deadlines"] = await _deadlines(config, database, env, log_dir, credentials)
    sections["outbox"] = await _outbox(config, database, env, log_dir, credentials)
    sections["audit"] = await run_audit(
        env,
        log_dir,
        database.dsn,
        quick=config.quick,
        concurrency=config.concurrency,
        workers=config.workers,
    )
    sections["audit_export"] = await run_audit_export(
        env, log_dir, seeded, database.url, database.dsn, entries=config.audit_entries
    )
    return sections, span, seeded


async def _dashboard(
    config: BenchConfig, server: Server, client: httpx.AsyncClient, credentials: Credentials
) -> dict[str, Any]:
    return await run_dashboard(
        server,
        client,
        credentials,
        requests=config.dashboard_requests,
        gap_s=DASHBOARD_GAP_S,
        timeout_s=config.push_timeout_s,
    )


async def _dashboard_only(
    config: BenchConfig, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """``--only dashboard``: POST to the page's DOM beside the raw push, on a server of its own."""
    await migrate(env)
    credentials = Credentials.from_seed(await seed(env))
    async with (
        serving(env, log_dir / "server.log", config.workers) as server,
        http_client(server.url, 10) as client,
    ):
        dashboard = await _dashboard(config, server, client, credentials)
    return {"dashboard": dashboard, "server_logs": scan_all([log_dir / "server.log"])}


async def _deadlines(
    config: BenchConfig,
    database: BenchDatabase,
    env: dict[str, str],
    log_dir: Path,
    credentials: Credentials,
) -> dict[str, Any]:
    return await run_deadlines(
        env,
        log_dir,
        credentials,
        database.dsn,
        count=config.deadlines,
        takeover_count=config.takeover_deadlines,
        workers=config.workers,
    )


async def _outbox(
    config: BenchConfig,
    database: BenchDatabase,
    env: dict[str, str],
    log_dir: Path,
    credentials: Credentials,
) -> dict[str, Any]:
    return await run_outbox(
        env,
        log_dir,
        credentials,
        database.dsn,
        messages=config.outbox_messages,
        deadlines=config.deadlines,
    )


async def _outbox_only(
    config: BenchConfig, database: BenchDatabase, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """``--only outbox``: webhook throughput, a black-holed endpoint, alert latency."""
    await migrate(env)
    credentials = Credentials.from_seed(await seed(env))
    outbox = await _outbox(config, database, env, log_dir, credentials)
    return {"outbox": outbox, "server_logs": scan_all([log_dir / n for n in OUTBOX_LOGS])}


async def _deadlines_only(
    config: BenchConfig, database: BenchDatabase, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """``--only deadlines``: lateness, takeover and their floor, on servers of their own."""
    await migrate(env)
    credentials = Credentials.from_seed(await seed(env))
    deadlines = await _deadlines(config, database, env, log_dir, credentials)
    return {
        "deadlines": deadlines,
        "server_logs": scan_all([log_dir / name for name in DEADLINE_LOGS]),
    }


async def _files_only(
    config: BenchConfig, database: BenchDatabase, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """``--only files``: the evidence files measurement and its floor, on a server of its own."""
    await migrate(env)
    credentials = Credentials.from_seed(await seed(env))
    async with serving(env, log_dir / "server.log", config.workers) as server:
        files = await run_files(server, credentials, database.dsn, rounds=config.file_rounds)
    return {"files": files, "server_logs": scan_all([log_dir / "server.log"])}


async def _audit_export_only(
    config: BenchConfig, database: BenchDatabase, env: dict[str, str], log_dir: Path
) -> dict[str, Any]:
    """``--only audit_export``: the audit trail exported and verified, on a server of its own."""
    await migrate(env)
    seeded = await seed(env)
    section = await run_audit_export(
        env, log_dir, seeded, database.url, database.dsn, entries=config.audit_entries
    )
    return {
        "audit_export": section,
        "server_logs": scan_all([log_dir / "server-audit-export.log"]),
    }


async def _matching(
    config: BenchConfig,
    database: BenchDatabase,
    env: dict[str, str],
    seeded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """bench/matching.py: submit with and without matching, then the lookup at
    ``--indicators``; on the given seeded database, or migrated and seeded here."""
    if seeded is None:
        await migrate(env)
        seeded = await seed(env)
    return await run_matching(
        env,
        config.output.parent,
        database.url,
        database.dsn,
        seeded,
        indicators=config.indicators,
        quick=config.quick,
        concurrency=config.concurrency,
    )


async def run(config: BenchConfig, event_loop: str, open_files: int) -> dict[str, Any]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    database = await recreate_database(config.database)
    env_section = environment(database, event_loop)
    if config.only == "shared_intake":
        with cli_environment(database) as env:
            section = await run_shared_intake(
                database,
                env,
                config.output.parent,
                objects=config.shared_objects,
                workers=config.workers,
            )
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        logs = scan_all([config.output.parent / "server-shared-intake.log"])
        return {
            "config": config.as_json(),
            "shared_intake": section,
            "server_logs": logs,
            "environment": env_section,
        }
    if config.only == "files":
        with cli_environment(database) as env:
            report = await _files_only(config, database, env, config.output.parent)
        report |= {
            "config": config.as_json(),
            "ratios": files_ratios(report["files"]),
            "warnings": files_warnings(report["files"]),
        }
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    if config.only == "dashboard":
        with cli_environment(database) as env:
            report = await _dashboard_only(config, env, config.output.parent)
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {"config": config.as_json(), **report, "environment": env_section}
    if config.only == "audit":
        with cli_environment(database) as env:
            report = await run_audit_only(
                env,
                config.output.parent,
                database.dsn,
                quick=config.quick,
                concurrency=config.concurrency,
                workers=config.workers,
            )
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {"config": config.as_json(), **report, "environment": env_section}
    if config.only == "audit_export":
        with cli_environment(database) as env:
            report = await _audit_export_only(config, database, env, config.output.parent)
        report |= {
            "config": config.as_json(),
            "ratios": audit_export_ratios(report["audit_export"]),
            "warnings": audit_export_warnings(report["audit_export"]),
        }
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    if config.only == "outbox":
        with cli_environment(database) as env:
            report = await _outbox_only(config, database, env, config.output.parent)
        report |= {"config": config.as_json(), "ratios": outbox_ratios(report["outbox"])}
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    if config.only == "deadlines":
        with cli_environment(database) as env:
            report = await _deadlines_only(config, database, env, config.output.parent)
        report |= {
            "config": config.as_json(),
            "ratios": deadlines_ratios(report["deadlines"]),
            "warnings": deadlines_warnings(report["deadlines"]),
        }
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    if config.only == "match":
        with cli_environment(database) as env:
            report = {"matching": await _matching(config, database, env)}
        report["server_logs"] = scan_all([config.output.parent / name for name in MATCH_LOGS])
        report |= {
            "config": config.as_json(),
            "ratios": matching_ratios(report["matching"]),
            "warnings": matching_warnings(report["matching"]),
        }
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    if config.only == "analytics":
        with cli_environment(database) as env:
            await migrate(env)
            seeded = await seed(env)
            report = {"analytics": await run_analytics(config, database, env, seeded)}
        report["server_logs"] = scan_all([config.output.parent / n for n in ANALYTICS_LOGS])
        report |= {
            "config": config.as_json(),
            "ratios": analytics_ratios(report["analytics"]),
            "warnings": analytics_warnings(report["analytics"]),
        }
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    if config.only == "reports":
        with cli_environment(database) as env:
            await migrate(env)
            seeded = await seed(env)
            report = {"reports": await run_reports(config, database, env, seeded)}
        report["server_logs"] = scan_all([config.output.parent / n for n in REPORTS_LOGS])
        report |= {
            "config": config.as_json(),
            "ratios": reports_ratios(report["reports"]),
            "warnings": [],
        }
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    if config.only == "search":
        with cli_environment(database) as env:
            await migrate(env)
            seeded = await seed(env)
            report = {"search": await run_search(config, database, env, seeded)}
        logs = [config.output.parent / name for name in SEARCH_LOGS]
        report["server_logs"] = scan_all(logs)
        report |= {
            "config": config.as_json(),
            "ratios": search_ratios(report["search"]),
            "warnings": search_warnings(report["search"]),
        }
        env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        env_section["duration_s"] = round(time.monotonic() - started, 1)
        env_section["started_at"] = started_at
        return {**report, "environment": env_section}
    with cli_environment(database) as env:
        sections, span, seeded = await _measure_service(config, database, env, config.output.parent)
    floor = await run_floor(
        database.dsn,
        request_body("DE", 0),
        inserts=config.intake_requests,
        serial=config.floor_serial_inserts,
        concurrency=config.concurrency,
        frames=config.floor_ws_frames,
        fanout_sockets=config.fanout_sockets,
        fanout_events=config.fanout_events,
        grace=config.push_timeout_s,
        resume=span,
        backfill_batch=RealtimeSettings().backfill_batch,
    )
    # Last: its 100,000 requests would weigh on every measurement above and on the floor.
    with cli_environment(database) as env:
        sections["search"] = await run_search(config, database, env, seeded)
        # After the search, for the same reason: millions of indicator values.
        sections["matching"] = await _matching(config, database, env, seeded)
    # Others' work on a shared machine shows here: compare with load_average_at_start.
    env_section["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    env_section["open_files_limit"] = open_files
    env_section["started_at"] = started_at
    env_section["duration_s"] = round(time.monotonic() - started, 1)
    names = (
        "server.log",
        "server-a.log",
        "server-b.log",
        "server-audit-export.log",
        *DEADLINE_LOGS,
        *OUTBOX_LOGS,
        *AUDIT_LOGS,
        *SEARCH_LOGS,
        *MATCH_LOGS,
    )
    logs = [config.output.parent / name for name in names]
    report = {"config": config.as_json(), **sections, "floor": floor}
    report["server_logs"] = scan_all(logs)
    report["ratios"] = (
        ratios(report)
        | audit_export_ratios(report["audit_export"])
        | outbox_ratios(report["outbox"])
        | search_ratios(report["search"])
        | matching_ratios(report["matching"])
    )
    report["warnings"] = (
        warnings(config, report)
        + audit_export_warnings(report["audit_export"])
        + search_warnings(report["search"])
        + matching_warnings(report["matching"])
    )
    report["environment"] = env_section
    return report


def _loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """uvloop when installed (it comes with uvicorn[standard]): less client overhead."""
    try:
        import uvloop
    except ImportError:
        return None, "asyncio"
    return uvloop.new_event_loop, f"uvloop {metadata.version('uvloop')}"


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    # Every socket is a file descriptor, here and in the server (which inherits the limit).
    wanted = max(config.idle_sockets, config.fanout_sockets) + OVERLOAD_CONNECTIONS + 1024
    soft, _ = raise_open_files_limit(wanted)
    if not at_least(soft, wanted):
        progress(f"open files limited to {soft} (wanted {wanted}): sockets may fail to open")
    factory, event_loop = _loop_factory()
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            report = runner.run(run(config, event_loop, soft))
    except (BenchError, OSError, asyncpg.PostgresError) as exc:
        progress(f"failed: {type(exc).__name__}: {exc}")
        return 1
    except KeyboardInterrupt:
        progress("interrupted; relay247 serve was stopped")
        return 130
    print(write(report, config.output))
    progress(f"report written to {config.output}")
    return 0
