"""Intake throughput: POST as fast as the service answers, a fixed number in flight."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx

from bench.progress import progress
from bench.stats import summarize_ms
from bench.submit import Submitted, outcomes, submit
from bench.workload import Credentials


async def _worker(
    client: httpx.AsyncClient,
    credentials: Credentials,
    indexes: itertools.count[int],
    end: int,
    results: list[Submitted],
) -> None:
    while (index := next(indexes)) < end:
        results.append(await submit(client, credentials, index, time.perf_counter()))


async def run_intake(
    client: httpx.AsyncClient, credentials: Credentials, *, first: int, count: int, concurrency: int
) -> dict[str, Any]:
    """Return the ``intake`` section of the report."""
    indexes = itertools.count(first)
    results: list[Submitted] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(client, credentials, indexes, first + count, results) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    accepted = [r for r in results if r.request_id is not None]
    throughput = len(accepted) / elapsed
    progress(f"intake: {throughput:.0f} requests/s with {concurrency} in flight")
    return {
        "requests": count,
        "concurrency": concurrency,
        "accepted": len(accepted),
        "failed": len(results) - len(accepted),
        "outcomes": outcomes(results),
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(throughput, 1),
        "post_latency_ms": summarize_ms(r.answered - r.sent for r in accepted),
    }
