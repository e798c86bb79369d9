"""Fan-out: one event to every dashboard of one country's desk.

``sockets`` dashboards (the country's contact-point and NCB tokens, shared) listen on
``desk:XX``. Requests to that country are POSTed one after another; after each POST the
bench waits until every dashboard has received its ``request.assigned`` frame (or the push
timeout passes) before sending the next, so each event's fan-out is measured alone. Latency
is from just before the POST is sent to the moment each socket's frame comes off the wire;
it is summarised over every (socket, event) receipt, and per event by its first and its last
receipt (the last: when the whole desk has it).

All sockets are read by this one process, so the figures include the client's own cost of
reading a thousand frames; the fan-out floor (a bare ``websockets`` server broadcasting to
as many clients read the same way, see floor.py) carries that same cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.cpu import CpuMeter
from bench.progress import progress
from bench.sockets import opened
from bench.stack import Server
from bench.stats import summarize_ms
from bench.submit import Submitted, outcomes, submit
from bench.workload import Credentials, desk_tokens, routed_to

FIRST_INDEX = 1_000_000  # request indexes of this section (distinct subjects)


@dataclass(slots=True)
class Receipts:
    """When each socket received each event, keyed by request id."""

    sockets: int
    times: dict[str, list[float]] = field(default_factory=dict)
    duplicates: int = 0
    dropped_sockets: int = 0
    _complete: dict[str, asyncio.Event] = field(default_factory=dict)

    @property
    def _live(self) -> int:
        return self.sockets - self.dropped_sockets

    def _event(self, key: str) -> asyncio.Event:
        return self._complete.setdefault(key, asyncio.Event())

    def record(self, key: str, received: float) -> None:
        times = self.times.setdefault(key, [])
        times.append(received)
        if len(times) >= self._live:
            self._event(key).set()

    def drop(self) -> None:
        """A socket was closed by the server: stop waiting for its receipts."""
        self.dropped_sockets += 1
        for key, times in self.times.items():
            if len(times) >= self._live:
                self._event(key).set()

    async def wait(self, key: str, grace: float) -> None:
        """Until every socket still open has ``key``, or ``grace`` seconds."""
        if len(self.times.get(key, ())) >= self._live:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event(key).wait(), grace)


async def listen(connection: ClientConnection, receipts: Receipts) -> None:
    """Record when this socket first hears of each request (``request.assigned``). A frame
    is a duplicate only when its (channel, offset) came before: the assignee's socket hears
    of its request twice by design, on the desk's channel and on its own."""
    heard: set[str] = set()
    offsets: set[tuple[str, int]] = set()
    try:
        async for message in connection:
            received = time.perf_counter()
            frame = json.loads(message)
            if frame.get("type") == "event" and frame.get("event") == "request.assigned":
                position = (frame["channel"], frame["offset"])
                if position in offsets:
                    receipts.duplicates += 1
                offsets.add(position)
                key = frame["data"]["request_id"]
                if key not in heard:
                    heard.add(key)
                    receipts.record(key, received)
    except ConnectionClosed:
        pass
    # Reached only when the server ends the socket: our own teardown cancels this task.
    receipts.drop()


@contextlib.asynccontextmanager
async def listening(connections: list[ClientConnection], receipts: Receipts) -> AsyncIterator[None]:
    listeners = [asyncio.create_task(listen(c, receipts)) for c in connections]
    try:
        yield
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)


def summarize_rounds(rounds: list[tuple[float, list[float]]], sockets: int) -> dict[str, Any]:
    """``rounds``: (sent, receipt times) of each measured event."""
    return {
        "receipt_latency_ms": summarize_ms(t - sent for sent, times in rounds for t in times),
        "first_receipt_ms": summarize_ms(min(times) - sent for sent, times in rounds if times),
        "last_receipt_ms": summarize_ms(max(times) - sent for sent, times in rounds if times),
        "missing_receipts": sum(sockets - len(times) for _, times in rounds),
    }


async def run_fanout(
    client: httpx.AsyncClient,
    server: Server,
    credentials: Credentials,
    *,
    country: str,
    sockets: int,
    events: int,
    warmup: int,
    timeout_s: float,
    postgres_dsn: str | None = None,
) -> dict[str, Any]:
    """Return the ``fanout`` section of the report."""
    receipts = Receipts(sockets)
    indexes = routed_to(country, credentials.countries, FIRST_INDEX, warmup + events)
    submitted: list[Submitted] = []
    async with opened(server.ws_url, desk_tokens(credentials, country, sockets)) as dashboards:
        progress(
            f"fan-out: {sockets} dashboards on desk:{country} connected "
            f"in {dashboards.elapsed_s:.1f}s; {warmup} + {events} events"
        )
        async with listening(dashboards.connections, receipts):
            for index in indexes[:warmup]:
                warm = await submit(client, credentials, index, time.perf_counter())
                if warm.request_id is not None:
                    await receipts.wait(warm.request_id, timeout_s)
            async with CpuMeter(server.pid, postgres_dsn) as cpu:
                for index in indexes[warmup:]:
                    posted = await submit(client, credentials, index, time.perf_counter())
                    submitted.append(posted)
                    if posted.request_id is not None:
                        await receipts.wait(posted.request_id, timeout_s)
    accepted = [s for s in submitted if s.request_id is not None]
    rounds = [(s.sent, receipts.times.get(str(s.request_id), [])) for s in accepted]
    section: dict[str, Any] = {
        "channel": f"desk:{country}",
        "sockets": sockets,
        **dashboards.as_json(),
        "events": events,
        "warmup_events": warmup,
        **summarize_rounds(rounds, sockets),
        "timeout_s": timeout_s,
        "duplicates": receipts.duplicates,
        "sockets_dropped": receipts.dropped_sockets,
        "post_latency_ms": summarize_ms(s.answered - s.sent for s in accepted),
        "failed_posts": len(submitted) - len(accepted),
        "post_outcomes": outcomes(submitted),
        "cpu": cpu.as_json(per=len(accepted), unit="event"),
    }
    latency = section["receipt_latency_ms"]
    progress(
        f"fan-out: receipt p50 {latency['p50']} ms, p99 {latency['p99']} ms, "
        f"last socket p50 {section['last_receipt_ms']['p50']} ms"
    )
    return section
