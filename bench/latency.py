"""Submit-to-push latency: POSTs at a steady rate, and the first dashboard of the target
country to receive each request's ``request.assigned`` frame.

The schedule is absolute (POST ``i`` is due at ``start + i / rate``) and each POST is its own
task, so a slow response delays nothing after it. A push is matched to its POST by
``data.request_id``; it may arrive before the POST's response does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.progress import progress
from bench.sockets import opened
from bench.stats import summarize_ms
from bench.submit import Submitted, outcomes, submit
from bench.workload import Credentials, dashboard_plan


@dataclass(frozen=True, slots=True)
class Push:
    received: float  # perf_counter() when the frame came off the socket
    channel: str


@dataclass(slots=True)
class Arrivals:
    """The first push of each request, over every dashboard."""

    first: dict[str, Push] = field(default_factory=dict)
    frames: int = 0
    dropped_dashboards: int = 0

    def record(self, request_id: str, push: Push) -> None:
        self.frames += 1
        self.first.setdefault(request_id, push)


# --- dashboards ----------------------------------------------------------------------------


async def _listen(connection: ClientConnection, arrivals: Arrivals) -> None:
    try:
        async for message in connection:
            received = time.perf_counter()
            frame = json.loads(message)
            if frame.get("type") == "event" and frame.get("event") == "request.assigned":
                arrivals.record(frame["data"]["request_id"], Push(received, frame["channel"]))
    except ConnectionClosed:
        pass
    # Reached only when the server ends the socket: our own teardown cancels this task.
    arrivals.dropped_dashboards += 1


@contextlib.asynccontextmanager
async def dashboards(
    base_url: str, credentials: Credentials, count: int, arrivals: Arrivals
) -> AsyncIterator[None]:
    """Open ``count`` dashboards spread over the countries, listening until the block ends."""
    ws_url = base_url.replace("http", "ws", 1) + "/v1/ws"
    tokens = [token for _, token in dashboard_plan(credentials, count)]
    async with opened(ws_url, tokens) as sockets:
        listeners = [asyncio.create_task(_listen(c, arrivals)) for c in sockets.connections]
        progress(f"{len(sockets.connections)} dashboards connected and welcomed on {ws_url}")
        try:
            yield
        finally:
            for listener in listeners:
                listener.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)


# --- submissions ---------------------------------------------------------------------------


Send = Callable[[int, float], Awaitable[Submitted]]  # (request index, when it was due)


def httpx_sender(client: httpx.AsyncClient, credentials: Credentials) -> Send:
    return functools.partial(submit, client, credentials)


async def paced(send: Send, first: int, count: int, rate: float) -> list[Submitted]:
    """POST ``count`` requests, POST ``i`` due at ``start + i / rate``, each in its own task."""
    start = time.perf_counter() + 0.01
    tasks: list[asyncio.Task[Submitted]] = []
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(first + i, due)))
    return list(await asyncio.gather(*tasks))


async def wait_for_pushes(arrivals: Arrivals, submitted: list[Submitted], grace: float) -> None:
    """Until every accepted request has had its push, or ``grace`` seconds after the last
    POST was answered."""
    expected = [s.request_id for s in submitted if s.request_id is not None]
    deadline = max((s.answered for s in submitted), default=time.perf_counter()) + grace
    while time.perf_counter() < deadline:
        if all(request_id in arrivals.first for request_id in expected):
            return
        await asyncio.sleep(0.02)


# --- the report ----------------------------------------------------------------------------


def _rate(count: int, since: float, until: float) -> float | None:
    return round(count / (until - since), 1) if until > since else None


def _push_section(accepted: list[Submitted], arrivals: Arrivals, timeout: float) -> dict[str, Any]:
    pairs = [(s, arrivals.first[s.request_id]) for s in accepted if s.request_id in arrivals.first]
    return {
        **summarize_ms(push.received - s.sent for s, push in pairs),
        "missing": len(accepted) - len(pairs),
        "late": sum(push.received - s.sent > timeout for s, push in pairs),
        "timeout_s": timeout,
        "wrong_channel": sum(push.channel != f"desk:{s.target}" for s, push in pairs),
        "push_before_post_response": sum(push.received < s.answered for s, push in pairs),
    }


def schedule_section(submitted: list[Submitted], rate: float) -> dict[str, Any]:
    """How closely the POSTs kept to their schedule, and how fast they were answered."""
    accepted = [s for s in submitted if s.request_id is not None]
    first_sent = min(s.sent for s in submitted)
    return {
        "offered_rate_per_s": rate,
        "sent_rate_per_s": _rate(len(submitted) - 1, first_sent, max(s.sent for s in submitted)),
        "completed_rate_per_s": _rate(
            len(accepted), first_sent, max(s.answered for s in submitted)
        ),
        "schedule_lag_ms": summarize_ms(s.sent - s.due for s in submitted),
    }


def _post_section(submitted: list[Submitted], rate: float) -> dict[str, Any]:
    accepted = [s for s in submitted if s.request_id is not None]
    return {
        **summarize_ms(s.answered - s.sent for s in accepted),
        "failed": len(submitted) - len(accepted),
        "outcomes": outcomes(submitted),
        **schedule_section(submitted, rate),
    }


async def run_latency(
    client: httpx.AsyncClient,
    base_url: str,
    credentials: Credentials,
    *,
    dashboards_count: int,
    warmup: int,
    requests: int,
    rate: float,
    push_timeout_s: float,
    label: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the ``latency_ms`` and ``post_latency_ms`` sections of the report.
    ``label`` prefixes the progress lines."""
    arrivals = Arrivals()
    async with dashboards(base_url, credentials, dashboards_count, arrivals):
        send = httpx_sender(client, credentials)
        warm = await paced(send, 0, warmup, rate)
        await wait_for_pushes(arrivals, warm, push_timeout_s)
        progress(f"{label}warmed up with {warmup} requests; {requests} requests at {rate:g}/s")
        submitted = await paced(send, warmup, requests, rate)
        await wait_for_pushes(arrivals, submitted, push_timeout_s)
    accepted = [s for s in submitted if s.request_id is not None]
    latency = _push_section(accepted, arrivals, push_timeout_s)
    post = _post_section(submitted, rate)
    latency["dashboards"] = dashboards_count
    latency["dashboards_dropped"] = arrivals.dropped_dashboards
    latency["assigned_frames_received"] = arrivals.frames
    progress(f"{label}push latency p50 {latency['p50']} ms, p99 {latency['p99']} ms")
    return latency, post
