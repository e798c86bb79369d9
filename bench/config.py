"""Command-line flags and the settings of one run."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCH_DATABASE = "relay247_bench"
DATABASE_ENV = "RELAY247_BENCH_DATABASE"
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    rate: float  # POSTs per second in the latency test
    requests: int  # measured POSTs in the latency test
    warmup: int  # POSTs before the latency test, not measured
    dashboards: int  # WebSockets listening during the latency test
    concurrency: int  # POSTs in flight in the intake test, inserts in flight in the floor
    intake_requests: int
    floor_serial_inserts: int  # one-at-a-time inserts: the latency floor
    floor_ws_frames: int
    push_timeout_s: float  # a push later than this after its POST counts as late
    workers: int  # relay247 serve --workers
    fanout_sockets: int  # dashboards of one desk that each event goes to
    fanout_events: int  # measured events, one after another
    resume_events: int  # events missed, then resumed by one dashboard
    idle_sockets: int  # idle dashboards whose memory is measured
    instance_requests: int  # POSTs of the two-instance latency test (at --rate)
    wrk_s: float  # duration of the wrk intake test
    overload_factor: float  # offered rate over the sustained intake
    overload_s: float  # duration of the overload
    file_rounds: int  # uploads (then downloads) of a 50 MiB file, one after another
    deadlines: int  # ack deadlines due at one instant across two instances
    takeover_deadlines: int  # deadlines due as one instance is killed with SIGKILL
    audit_entries: int  # sealed audit entries exported and verified (bench/audit_export.py)
    dashboard_requests: int  # POSTs whose row is timed into the dashboard page's DOM
    outbox_messages: int  # webhook messages written at once (bench/outbox.py)
    search_requests: int  # requests the all-requests search runs over (bench/request_search.py)
    search_rounds: int  # times each search shape is asked
    indicators: int  # indicator values the match lookup runs over (bench/matching.py)
    final_requests: int  # final requests' outcomes the analytics query runs over
    analytics_rounds: int  # times each analytics query shape is asked
    database: str  # dropped and recreated on the server of DATABASE_URL
    output: Path
    quick: bool
    only: str | None  # one measurement alone (--only), or None: all
    shared_objects: int = (
        1_000_000  # indicators of the shared_intake bench (bench/shared_intake.py)
    )

    def as_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["output"] = str(self.output)
        return values


_FULL = {
    "requests": 2000,
    "intake_requests": 2000,
    "serial": 500,
    "frames": 2000,
    "warmup": 30,
    "fanout_sockets": 1000,
    "fanout_events": 20,
    "resume_events": 10_000,
    "idle_sockets": 2000,
    "instance_requests": 1000,
    "wrk_s": 10.0,
    "overload_s": 15.0,
    "file_rounds": 3,
    "deadlines": 1000,
    "takeover_deadlines": 200,
    "audit_entries": 1_000_000,
    "dashboard_requests": 200,
    "outbox_messages": 5000,
    "search_requests": 100_000,
    "search_rounds": 100,
    "indicators": 10_000_000,
    "final_requests": 1_000_000,
    "analytics_rounds": 20,
}
_QUICK = {
    "requests": 300,
    "intake_requests": 300,
    "serial": 200,
    "frames": 500,
    "warmup": 10,
    "fanout_sockets": 100,
    "fanout_events": 5,
    "resume_events": 1000,
    "idle_sockets": 200,
    "instance_requests": 200,
    "wrk_s": 3.0,
    "overload_s": 3.0,
    "file_rounds": 1,
    "deadlines": 200,
    "takeover_deadlines": 50,
    "audit_entries": 20_000,
    "dashboard_requests": 50,
    "outbox_messages": 500,
    "search_requests": 10_000,
    "search_rounds": 20,
    "indicators": 200_000,
    "final_requests": 20_000,
    "analytics_rounds": 10,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark relay247: submit-to-push latency, intake, fan-out, resume, "
        "memory per socket, evidence files, two instances, overload, CPU; and the floor "
        "beneath them.",
    )
    parser.add_argument("--rate", type=float, default=100.0, help="POSTs/s (default 100)")
    parser.add_argument("--requests", type=int, help="latency POSTs (default 2000, quick 300)")
    parser.add_argument("--dashboards", type=int, default=50, help="WebSockets (default 50)")
    parser.add_argument("--concurrency", type=int, default=32, help="in flight (default 32)")
    parser.add_argument("--intake-requests", type=int, help="default 2000, quick 300")
    parser.add_argument("--push-timeout", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--workers", type=int, default=1, help="relay247 serve --workers")
    parser.add_argument("--fanout-sockets", type=int, help="default 1000, quick 100")
    parser.add_argument("--fanout-events", type=int, help="default 20, quick 5")
    parser.add_argument("--resume-events", type=int, help="default 10000, quick 1000")
    parser.add_argument("--idle-sockets", type=int, help="default 2000, quick 200")
    parser.add_argument("--instance-requests", type=int, help="default 1000, quick 200")
    parser.add_argument("--wrk-seconds", type=float, help="default 10, quick 3")
    parser.add_argument("--overload-factor", type=float, default=2.0, help="default 2")
    parser.add_argument("--overload-seconds", type=float, help="default 15, quick 3")
    parser.add_argument(
        "--file-rounds", type=int, help="50 MiB uploads and downloads (default 3, quick 1)"
    )
    parser.add_argument(
        "--deadlines", type=int, help="ack deadlines due at one instant (default 1000, quick 200)"
    )
    parser.add_argument(
        "--takeover-deadlines",
        type=int,
        help="deadlines due as an instance is killed (default 200, quick 50)",
    )
    parser.add_argument(
        "--audit-entries",
        type=int,
        help="sealed audit entries exported and verified (default 1000000, quick 20000)",
    )
    parser.add_argument(
        "--dashboard-requests",
        type=int,
        help="requests timed from POST into the dashboard page's DOM (default 200, quick 50)",
    )
    parser.add_argument(
        "--shared-objects",
        type=int,
        default=1_000_000,
        help="indicators of --only shared_intake, in bundles of 10,000 (default 1,000,000)",
    )
    parser.add_argument(
        "--only",
        choices=[
            "files",
            "deadlines",
            "audit",
            "audit_export",
            "dashboard",
            "outbox",
            "search",
            "match",
            "shared_intake",
            "analytics",
            "reports",
        ],
        help="run one measurement alone (with its floor): files, deadlines, audit, "
        "audit_export, dashboard, outbox, search, match (submit_matching and match_lookup), "
        "shared_intake, analytics, reports (the network's report generated)",
    )
    parser.add_argument(
        "--database",
        default=os.environ.get(DATABASE_ENV, BENCH_DATABASE),
        help=f"database to drop and recreate (default ${DATABASE_ENV} or {BENCH_DATABASE})",
    )
    parser.add_argument(
        "--outbox-messages",
        type=int,
        help="webhook messages sent at once (default 5000, quick 500)",
    )
    parser.add_argument(
        "--search-requests",
        type=int,
        help="requests the all-requests search runs over (default 100000, quick 10000)",
    )
    parser.add_argument(
        "--indicators",
        type=int,
        help="indicator values the match lookup runs over; submit_matching stores up to "
        "1000000 of them (default 10000000, quick 200000)",
    )
    parser.add_argument(
        "--final-requests",
        type=int,
        help="final requests the analytics query runs over (default 1000000, quick 20000)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument("--quick", action="store_true", help="a small run, for smoke tests")
    return parser


def _positive(parser: argparse.ArgumentParser, name: str, value: float) -> None:
    if value <= 0:
        parser.error(f"{name} must be positive")


def parse_args(argv: Sequence[str] | None = None) -> BenchConfig:
    parser = _parser()
    args = parser.parse_args(argv)
    sizes = _QUICK if args.quick else _FULL
    config = BenchConfig(
        rate=args.rate,
        requests=args.requests or sizes["requests"],
        warmup=sizes["warmup"],
        dashboards=args.dashboards,
        concurrency=args.concurrency,
        intake_requests=args.intake_requests or sizes["intake_requests"],
        floor_serial_inserts=sizes["serial"],
        floor_ws_frames=sizes["frames"],
        push_timeout_s=args.push_timeout,
        workers=args.workers,
        fanout_sockets=args.fanout_sockets or sizes["fanout_sockets"],
        fanout_events=args.fanout_events or sizes["fanout_events"],
        resume_events=args.resume_events or sizes["resume_events"],
        idle_sockets=args.idle_sockets or sizes["idle_sockets"],
        instance_requests=args.instance_requests or sizes["instance_requests"],
        wrk_s=args.wrk_seconds or sizes["wrk_s"],
        overload_factor=args.overload_factor,
        overload_s=args.overload_seconds or sizes["overload_s"],
        file_rounds=args.file_rounds or int(sizes["file_rounds"]),
        deadlines=args.deadlines or int(sizes["deadlines"]),
        takeover_deadlines=args.takeover_deadlines or int(sizes["takeover_deadlines"]),
        audit_entries=args.audit_entries or int(sizes["audit_entries"]),
        dashboard_requests=args.dashboard_requests or int(sizes["dashboard_requests"]),
        outbox_messages=args.outbox_messages or int(sizes["outbox_messages"]),
        search_requests=args.search_requests or int(sizes["search_requests"]),
        search_rounds=int(sizes["search_rounds"]),
        indicators=args.indicators or int(sizes["indicators"]),
        final_requests=args.final_requests or int(sizes["final_requests"]),
        analytics_rounds=int(sizes["analytics_rounds"]),
        database=args.database,
        output=args.output,
        quick=args.quick,
        only=args.only,
        shared_objects=args.shared_objects,
    )
    for name in (
        "rate",
        "requests",
        "dashboards",
        "concurrency",
        "intake_requests",
        "workers",
        "fanout_sockets",
        "fanout_events",
        "resume_events",
        "idle_sockets",
        "instance_requests",
        "overload_factor",
        "file_rounds",
        "deadlines",
        "takeover_deadlines",
        "audit_entries",
        "dashboard_requests",
        "search_requests",
        "indicators",
        "final_requests",
    ):
        _positive(parser, f"--{name.replace('_', '-')}", getattr(config, name))
    for name, value in (("--wrk-seconds", config.wrk_s), ("--overload-seconds", config.overload_s)):
        _positive(parser, name, value)
    _positive(parser, "--push-timeout", config.push_timeout_s)
    if not _DATABASE_NAME.fullmatch(config.database):
        parser.error("--database must be a lower-case identifier: letters, digits, _")
    return config
