"""Submit to push across instances: two ``relay247 serve`` processes on one database, the
dashboards on instance B, the POSTs to instance A.

Every push then crosses Postgres: A commits the request and its event, sends its coalesced
NOTIFY after commit, B's listener wakes and B's hub re-reads the event table. The test is
the latency test (bench/latency.py) with its sockets on the other instance; comparing it to
the single-instance latency shows what the trip through Postgres costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.latency import run_latency
from bench.stack import serving
from bench.submit import http_client
from bench.workload import Credentials


async def run_instances(
    env: Mapping[str, str],
    log_dir: Path,
    credentials: Credentials,
    *,
    workers: int,
    dashboards: int,
    warmup: int,
    requests: int,
    rate: float,
    push_timeout_s: float,
    connections: int,
) -> dict[str, Any]:
    """Return the ``instances`` section of the report."""
    async with (
        serving(env, log_dir / "server-a.log", workers) as a,
        serving(env, log_dir / "server-b.log", workers) as b,
        http_client(a.url, connections) as client,
    ):
        latency, post = await run_latency(
            client,
            b.url,
            credentials,
            dashboards_count=dashboards,
            warmup=warmup,
            requests=requests,
            rate=rate,
            push_timeout_s=push_timeout_s,
            label="instances: ",
        )
    return {
        "instances": 2,
        "posts_to": "A",
        "dashboards_on": "B",
        "latency_ms": latency,
        "post_latency_ms": post,
    }
