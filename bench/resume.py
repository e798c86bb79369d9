"""Resume after a long absence: thousands of events missed on one desk channel.

While no dashboard is connected to ``desk:XX``, ``count`` events are written straight into
the event table (in batches, each taking its offsets from the channel's counter row as
relay247 does, then one NOTIFY), as another instance would. Then one dashboard connects and
resumes from the offset before them, sending ``resume`` as its first frame. Measured: the
time from the start of the connection to the last of those events, events per second, and
that they came exactly once each, in order, with consecutive offsets.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import asyncpg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.floor import ResumeSpan, event_data
from bench.progress import progress
from bench.sockets import resume_frame
from bench.stack import Server
from bench.workload import Credentials, request_body

EVENT_TYPE = "request.updated"
INSERT_BATCH = 1000
AFTER_LAST_S = 2.0  # once every event is in, how long to wait for the `resumed` frame

_TAKE_OFFSETS = (
    "INSERT INTO channels AS c (name, last_offset) VALUES ($1, $2) "
    "ON CONFLICT (name) DO UPDATE SET last_offset = c.last_offset + $2 "
    "RETURNING last_offset"
)
_INSERT_EVENT = 'INSERT INTO events (channel, "offset", type, data) VALUES ($1, $2, $3, $4::jsonb)'


async def append_events(dsn: str, channel: str, count: int) -> int:
    """Write ``count`` events to ``channel`` as tests/test_realtime.py::append_raw_events
    does, ``INSERT_BATCH`` per transaction, then wake the hubs; return the offset before
    the first of them."""
    body = request_body(channel.removeprefix("desk:"), 0)
    connection = await asyncpg.connect(dsn)
    try:
        after = None
        for start in range(0, count, INSERT_BATCH):
            size = min(INSERT_BATCH, count - start)
            async with connection.transaction():
                last = await connection.fetchval(_TAKE_OFFSETS, channel, size)
                first = last - size + 1
                after = first - 1 if after is None else after
                await connection.executemany(
                    _INSERT_EVENT,
                    [
                        (channel, offset, EVENT_TYPE, json.dumps(event_data(body)))
                        for offset in range(first, last + 1)
                    ],
                )
        await connection.execute("SELECT pg_notify('relay247_events', $1)", channel)
    finally:
        await connection.close()
    return after or 0


def _check(offsets: list[int], span: ResumeSpan) -> dict[str, Any]:
    expected = range(span.after + 1, span.after + span.count + 1)
    distinct = set(offsets)
    return {
        "received": len(offsets),
        "in_order_and_consecutive": offsets == list(expected),
        "duplicates": len(offsets) - len(distinct),
        "gaps": len(set(expected) - distinct),
        "unexpected": len(distinct - set(expected)),
        "out_of_order": sum(b <= a for a, b in itertools.pairwise(offsets)),
    }


async def _resume(server: Server, token: str, span: ResumeSpan, timeout_s: float) -> dict[str, Any]:
    """Connect, resume from ``span.after``, and read until ``resumed`` (or the timeout)."""
    last_offset = span.after + span.count
    offsets: list[int] = []
    times: dict[str, float] = {}
    closed: int | None = None
    errors: list[Any] = []
    started = time.perf_counter()
    try:
        async with (
            connect(
                server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None
            ) as connection,
            asyncio.timeout(timeout_s) as deadline,
        ):
            await connection.send(resume_frame({span.channel: span.after}))
            async for message in connection:
                now = time.perf_counter()
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "event" and frame.get("channel") == span.channel:
                    offsets.append(frame["offset"])
                    times.setdefault("first_event", now)
                    if frame["offset"] == last_offset:
                        times["last_event"] = now
                        deadline.reschedule(asyncio.get_running_loop().time() + AFTER_LAST_S)
                elif kind in ("welcome", "resumed"):
                    times.setdefault(kind, now)
                    if kind == "resumed":
                        break
                elif kind == "error":
                    errors.append(frame.get("detail"))
    except TimeoutError:
        pass
    except ConnectionClosed as exc:
        closed = exc.rcvd.code if exc.rcvd else None
    complete = "last_event" in times and len(offsets) >= span.count
    elapsed = times["last_event"] - started if complete else None
    return {
        "elapsed_s": round(elapsed, 3) if elapsed else None,
        "events_per_s": round(span.count / elapsed, 1) if elapsed else None,
        **{f"{k}_ms": round((t - started) * 1000, 1) for k, t in sorted(times.items())},
        **_check(offsets, span),
        "closed_by_server": closed,
        "errors": errors,
        "timed_out": "resumed" not in times and closed is None,
    }


async def run_resume(
    dsn: str,
    server: Server,
    credentials: Credentials,
    *,
    country: str,
    count: int,
    timeout_s: float,
) -> tuple[dict[str, Any], ResumeSpan]:
    """Return the ``resume`` section of the report, and which events it wrote (for the
    floor, which reads the same ones back)."""
    channel = f"desk:{country}"
    started = time.perf_counter()
    after = await append_events(dsn, channel, count)
    written = time.perf_counter() - started
    span = ResumeSpan(channel, after, count)
    progress(f"resume: {count} events written to {channel} in {written:.1f}s; resuming")
    result = await _resume(server, credentials.desks[country][0], span, timeout_s)
    section = {
        "channel": channel,
        "events": count,
        "resume_from_offset": after,
        "write_s": round(written, 3),
        **result,
    }
    progress(
        f"resume: {result['received']} events in {result['elapsed_s']}s "
        f"({result['events_per_s']}/s), {result['gaps']} gaps, "
        f"{result['duplicates']} duplicates"
    )
    return section, span
