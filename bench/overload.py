"""Overload: POSTs offered at a multiple of the sustained intake, open loop.

The rate is ``factor`` times the intake the service sustained earlier in the run (measured
by wrk when it ran, else by the Python intake test), on an absolute schedule
(bench/latency.py::paced): POST ``i`` is due at ``start + i / rate`` whatever became of the
earlier ones, as independent national systems would send them. A service that sheds load
answers some at once with 503 (or 429) and ``Retry-After`` and keeps the latency of the rest
near its unloaded figure; one that does not queues them all, and the latency of the accepted
ones grows for as long as the overload lasts.

POSTs go through bench/rawhttp.py rather than httpx, which costs too much CPU per POST for
this process to offer twice what the server sustains on a small machine. The client may
hold up to ``connections`` connections, so the server, not the client, sees the excess; a
POST that waits for a free connection counts that wait in its latency. A POST with no
answer after ``TIMEOUT_S`` is abandoned and counted as a timeout.
"""

from __future__ import annotations

from typing import Any

from bench.cpu import CpuMeter
from bench.latency import paced, schedule_section
from bench.progress import progress
from bench.rawhttp import RawClient, RawSubmitter
from bench.stack import Server
from bench.stats import summarize_ms
from bench.submit import Submitted, outcomes
from bench.workload import Credentials

FIRST_INDEX = 4_000_000  # subjects distinct from the other sections'
SHED = frozenset({"503", "429"})
# Longer than the server's own 30 s wait for a database connection (SQLAlchemy's pool
# timeout), so the 500 it answers then reaches the report instead of a client timeout.
TIMEOUT_S = 60.0


def _classify(submitted: list[Submitted]) -> dict[str, Any]:
    shed = [s for s in submitted if s.outcome in SHED]
    other_5xx = [s for s in submitted if s.outcome.startswith("5") and s.outcome not in SHED]
    timeouts = [s for s in submitted if s.outcome == "Timeout"]
    errors = [s for s in submitted if not s.outcome.isdigit() and s.outcome != "Timeout"]
    accepted = [s for s in submitted if s.request_id is not None]
    return {
        "accepted": len(accepted),
        "shed": len(shed),
        "shed_share": round(len(shed) / len(submitted), 4) if submitted else None,
        "shed_with_retry_after": sum(s.retry_after is not None for s in shed),
        "other_5xx": len(other_5xx),
        "timeouts": len(timeouts),
        "errors": len(errors),
        "outcomes": outcomes(submitted),
        "accepted_latency_ms": summarize_ms(s.answered - s.sent for s in accepted),
        "shed_latency_ms": summarize_ms(s.answered - s.sent for s in shed),
    }


async def run_overload(
    server: Server,
    credentials: Credentials,
    *,
    sustained_per_s: float,
    basis: str,
    factor: float,
    duration_s: float,
    connections: int,
    postgres_dsn: str | None,
) -> dict[str, Any]:
    """Return the ``overload`` section of the report."""
    rate = factor * sustained_per_s
    count = max(1, round(rate * duration_s))
    progress(f"overload: {count} POSTs at {rate:.0f}/s ({factor:g} x {sustained_per_s:.0f}/s)")
    client = RawClient(server.url, connections, TIMEOUT_S)
    send = RawSubmitter(client, credentials, FIRST_INDEX)
    try:
        async with CpuMeter(server.pid, postgres_dsn) as cpu:
            submitted = await paced(send, FIRST_INDEX, count, rate)
    finally:
        await client.aclose()
    section = {
        "sustained_intake_per_s": sustained_per_s,
        "sustained_intake_from": basis,
        "factor": factor,
        "duration_s": duration_s,
        "requests": count,
        "client": f"bench/rawhttp.py, up to {connections} connections, {TIMEOUT_S:g}s timeout",
        "connections_opened": client.opened,
        **_classify(submitted),
        **schedule_section(submitted, rate),
        "cpu": cpu.as_json(per=count),
    }
    latency = section["accepted_latency_ms"]
    progress(
        f"overload: {section['shed_share']:.1%} shed, accepted p50 {latency['p50']} ms, "
        f"p99 {latency['p99']} ms, {section['other_5xx']} other 5xx, "
        f"{section['timeouts']} timeouts, {section['errors']} errors"
    )
    return section
