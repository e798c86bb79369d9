"""The report: environment, ratios to the floor, warnings, and where it is written."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.audit import audit_ratios, audit_warnings
from bench.config import BenchConfig
from bench.cpu import CLIENT_LIMITED_CORES
from bench.deadlines import deadlines_ratios, deadlines_warnings
from bench.files import files_ratios, files_warnings
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


def _latency_ratios(latency: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
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
    }


def _fanout_ratios(fanout: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    receipts = fanout["receipt_latency_ms"]
    ws = floor["websocket"]["latency_ms"]
    bare = floor["websocket_fanout"]["receipt_latency_ms"]
    fanout_floor = {
        q: _floor_sum(floor["insert_serial"]["latency_ms"], bare, q) for q in ("p50", "p99")
    }
    return {
        "fanout_p50_over_websocket_floor_p50": _ratio(receipts["p50"], ws["p50"]),
        "fanout_p99_over_websocket_floor_p99": _ratio(receipts["p99"], ws["p99"]),
        "fanout_floor_latency_ms": fanout_floor,
        "fanout_p50_over_fanout_floor_p50": _ratio(receipts["p50"], fanout_floor["p50"]),
        "fanout_p99_over_fanout_floor_p99": _ratio(receipts["p99"], fanout_floor["p99"]),
    }


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    """relay247 over the floor (1.0 would be the floor itself; lower is better for latency
    and time, higher is better for throughput). A floor latency adds the percentiles of its
    parts (a slight overestimate of the floor at p99)."""
    floor, intake, wrk = report["floor"], report["intake"], report["intake_wrk"]
    single, cross = report["latency_ms"], report["instances"]["latency_ms"]
    unloaded_post, overload = report["post_latency_ms"], report["overload"]
    resume_floor = floor.get("resume", {}).get("elapsed_s")
    files = files_ratios(report["files"]) if "files" in report else {}
    deadlines = deadlines_ratios(report["deadlines"]) if "deadlines" in report else {}
    deadlines |= audit_ratios(report["audit"]) if "audit" in report else {}
    return {
        **files,
        **deadlines,
        **_latency_ratios(single, floor),
        "intake_over_floor_inserts": _ratio(
            intake["requests_per_s"], floor["insert"]["inserts_per_s"], digits=4
        ),
        "intake_wrk_over_floor_inserts": _ratio(
            wrk.get("requests_per_s"), floor["insert"]["inserts_per_s"], digits=4
        ),
        "intake_python_over_wrk": _ratio(intake["requests_per_s"], wrk.get("requests_per_s")),
        **_fanout_ratios(report["fanout"], floor),
        "resume_time_over_floor": _ratio(report["resume"]["elapsed_s"], resume_floor),
        "cross_instance_p50_over_single_p50": _ratio(cross["p50"], single["p50"]),
        "cross_instance_p99_over_single_p99": _ratio(cross["p99"], single["p99"]),
        "overload_accepted_p50_over_unloaded_post_p50": _ratio(
            overload["accepted_latency_ms"]["p50"], unloaded_post["p50"]
        ),
        "overload_accepted_p99_over_unloaded_post_p99": _ratio(
            overload["accepted_latency_ms"]["p99"], unloaded_post["p99"]
        ),
        "basis": (
            "floor_latency = serial insert+commit + websocket frame (idle server); "
            "loaded_floor_latency uses the insert latency at the intake concurrency; "
            "intake ratios = relay247 requests/s over bare inserts/s at the same concurrency; "
            "fanout_floor_latency = serial insert+commit + a bare server's broadcast to as "
            "many sockets, read by the same client; resume_time_over_floor = time to resume "
            "over (bare select of the same events + bare stream of as many frames); "
            "cross_instance = dashboards on instance B, POSTs to A, over both on one; "
            "overload ratios = accepted POSTs under overload over POSTs at --rate; "
            "files ratios = MB/s of a 50 MiB upload (download) through the API over a bare "
            "COPY (batched read) of the same bytes in 1 MiB rows; deadline ratios = lateness "
            "of a burst of ack deadlines fired by two instances over a bare SKIP LOCKED "
            "claim-and-update of as many rows on one connection"
        ),
    }


def _latency_warnings(
    prefix: str, rate: float, latency: dict[str, Any], post: dict[str, Any]
) -> list[str]:
    notes = []
    completed = post["completed_rate_per_s"]
    if completed is not None and completed < 0.95 * rate:
        notes.append(
            f"{prefix}relay247 did not keep up with {rate:g} POST/s (it completed "
            f"{completed}/s): the latency figures include queueing; lower --rate to measure "
            "below saturation"
        )
    lag = post["schedule_lag_ms"]["p99"]
    if lag is not None and lag > 20:
        notes.append(f"{prefix}the load generator fell behind its schedule (lag p99 {lag} ms)")
    if latency["missing"] or latency["late"]:
        notes.append(
            f"{prefix}{latency['missing']} pushes never arrived and {latency['late']} came "
            f"later than {latency['timeout_s']:g}s"
        )
    if latency["wrong_channel"] or latency["dashboards_dropped"]:
        notes.append(
            f"{prefix}{latency['wrong_channel']} pushes on a foreign channel, "
            f"{latency['dashboards_dropped']} dashboards closed by the server"
        )
    if post["failed"]:
        notes.append(f"{prefix}{post['failed']} POSTs failed: {post['outcomes']}")
    return notes


def _fanout_warnings(fanout: dict[str, Any]) -> list[str]:
    notes = []
    problems = {
        "receipts missing": fanout["missing_receipts"],
        "duplicate frames": fanout["duplicates"],
        "sockets closed by the server": fanout["sockets_dropped"],
        "POSTs failed": fanout["failed_posts"],
    }
    if any(problems.values()):
        found = ", ".join(f"{n} {what}" for what, n in problems.items() if n)
        notes.append(f"fan-out: {found}")
    client = fanout["cpu"]["client_cores"]
    if client is not None and client >= CLIENT_LIMITED_CORES:
        notes.append(
            f"fan-out: the client was busy ({client} cores) reading {fanout['sockets']} "
            "sockets; its reading is part of every receipt (and of the fan-out floor)"
        )
    return notes


def _resume_warnings(resume: dict[str, Any]) -> list[str]:
    if resume["in_order_and_consecutive"]:
        return []
    return [
        f"resume: {resume['received']} of {resume['events']} events, {resume['gaps']} gaps, "
        f"{resume['duplicates']} duplicates, {resume['out_of_order']} out of order, "
        f"{resume['unexpected']} unexpected; closed by the server: "
        f"{resume['closed_by_server']}, timed out: {resume['timed_out']}"
    ]


def _intake_warnings(report: dict[str, Any]) -> list[str]:
    notes = []
    intake, wrk, cpu = report["intake"], report["intake_wrk"], report["cpu"]
    if intake["failed"]:
        notes.append(f"intake: {intake['failed']} POSTs failed: {intake['outcomes']}")
    python = cpu["intake_python"]
    if python["client_limited"]:
        where = (
            "see intake_wrk for what relay247 sustains"
            if wrk.get("requests_per_s")
            else "install wrk (apt-get install wrk) to measure past the client"
        )
        notes.append(
            f"intake: the Python client used {python['client_cores']} cores: it is (near) "
            f"the limit of the intake figure; {where}"
        )
    elif wrk.get("requests_per_s", 0) > 1.25 * intake["requests_per_s"]:
        notes.append(
            f"intake: wrk sustained {wrk['requests_per_s']}/s where the Python client got "
            f"{intake['requests_per_s']}/s: the Python figure is the client's limit (on a "
            "small machine it competes with the server for CPU)"
        )
    if not wrk["available"]:
        notes.append(f"intake_wrk: not measured: {wrk['reason']}")
    elif "failed" in wrk:
        notes.append(f"intake_wrk: {wrk['failed']}")
    elif wrk["accepted"] < wrk["responses"] or any(wrk["socket_errors"].values()):
        notes.append(
            f"intake_wrk: statuses {wrk['statuses']}, socket errors {wrk['socket_errors']}"
        )
    return notes


def _overload_warnings(overload: dict[str, Any]) -> list[str]:
    notes = []
    offered, sent = overload["offered_rate_per_s"], overload["sent_rate_per_s"]
    if sent is not None and sent < 0.9 * offered:
        notes.append(
            f"overload: the client offered only {sent}/s of the {offered:.0f}/s intended "
            "(it is itself short of CPU): the server was less overloaded than asked"
        )
    if overload["other_5xx"] or overload["errors"]:
        notes.append(
            f"overload: {overload['other_5xx']} 5xx other than 503 and "
            f"{overload['errors']} POSTs with no answer: {overload['outcomes']}"
        )
    if not overload["shed"]:
        notes.append(
            f"overload: nothing was shed at {overload['factor']:g} x the sustained intake; "
            f"accepted POSTs queued (p99 {overload['accepted_latency_ms']['p99']} ms)"
        )
    elif overload["shed_with_retry_after"] < overload["shed"]:
        notes.append(
            f"overload: {overload['shed'] - overload['shed_with_retry_after']} shed POSTs "
            "came without Retry-After"
        )
    return notes


def warnings(config: BenchConfig, report: dict[str, Any]) -> list[str]:
    """What a reader of the figures must know: saturation, a late or busy load generator,
    losses, duplicates, errors."""
    instances = report["instances"]
    memory = report["memory"]
    notes = [
        *_latency_warnings("", config.rate, report["latency_ms"], report["post_latency_ms"]),
        *_fanout_warnings(report["fanout"]),
        *_resume_warnings(report["resume"]),
        *_intake_warnings(report),
        *_overload_warnings(report["overload"]),
        *_latency_warnings(
            "instances: ", config.rate, instances["latency_ms"], instances["post_latency_ms"]
        ),
    ]
    for name, log in report["server_logs"].items():
        if log.get("errors") or log.get("exception_lines"):
            notes.append(
                f"{name}: {log['errors']} ERROR lines; exceptions named "
                f"{log['exception_lines']}: read the log"
            )
    if "files" in report:
        notes += files_warnings(report["files"])
    if "deadlines" in report:
        notes += deadlines_warnings(report["deadlines"])
    if "audit" in report:
        notes += audit_warnings(report["audit"])
    if memory["kib_per_socket"] is None:
        notes.append("memory: the server's VmRSS could not be read from /proc")
    return notes


def write(report: dict[str, Any], path: Path) -> str:
    text = json.dumps(report, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return text
