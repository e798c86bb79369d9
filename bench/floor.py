"""The floor: what Postgres and a WebSocket give on this machine with nothing in between.

* ``insert``: a bare asyncpg ``INSERT`` of a JSON row like a request's into ``bench_floor``,
  in autocommit (one round trip, and the commit's WAL flush), ``concurrency`` connections
  each inserting in a loop: inserts per second and per-insert latency under that load.
* ``insert_serial``: the same insert, one at a time on one connection: the latency of a
  durable write on an idle server, the part of a push that storing the request must cost.
* ``websocket``: a bare ``websockets`` server on loopback sends a text frame the size of a
  relay247 event frame to its one client, one frame at a time; send-to-receive latency.
* ``websocket_fanout``: a bare ``websockets`` server in its own process (bench/floor_server.py)
  broadcasts such a frame to as many sockets as the fan-out test has, read by this process
  exactly as relay247's fan-out is: from the command sent to each socket's frame.
* ``resume``: a bare read of the events the resume test wrote (one query per backfill
  batch), then the bare server streaming as many frames to one client that parses each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from bench.fanout import Receipts, listening, summarize_rounds
from bench.progress import progress
from bench.stack import BenchError
from bench.stats import summarize_ms

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_floor (
    id uuid PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = "INSERT INTO bench_floor (id, body) VALUES ($1, $2)"
SELECT_EVENTS = (
    'SELECT "offset", type, data, created_at FROM events '
    'WHERE channel = $1 AND "offset" > $2 ORDER BY "offset" LIMIT $3'
)
WARMUP = 20
WARMUP_EVENTS = 2  # fan-outs before the measured ones
CONNECT_BATCH = 50
ROOT = Path(__file__).resolve().parent.parent  # where ``python -m bench.floor_server`` runs


@dataclass(frozen=True, slots=True)
class ResumeSpan:
    """The events the resume measurement wrote: ``count`` on ``channel`` after ``after``."""

    channel: str
    after: int
    count: int


async def _timed_inserts(connection: asyncpg.Connection, body: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await connection.execute(INSERT, uuid.uuid4(), body)
        samples.append(time.perf_counter() - started)
    return samples


async def insert_floor(dsn: str, body: str, *, count: int, concurrency: int) -> dict[str, Any]:
    """``count`` inserts shared by ``concurrency`` connections, each inserting in a loop."""
    connections = await asyncio.gather(*(asyncpg.connect(dsn) for _ in range(concurrency)))
    try:
        await connections[0].execute(CREATE_TABLE)
        await asyncio.gather(*(_timed_inserts(c, body, 1) for c in connections))
        shares = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
        started = time.perf_counter()
        results = await asyncio.gather(
            *(_timed_inserts(c, body, n) for c, n in zip(connections, shares, strict=True))
        )
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    rate = count / elapsed
    progress(f"floor: {rate:.0f} inserts/s with {concurrency} in flight")
    return {
        "concurrency": concurrency,
        "inserts": count,
        "elapsed_s": round(elapsed, 3),
        "inserts_per_s": round(rate, 1),
        "latency_ms": summarize_ms(s for samples in results for s in samples),
    }


async def serial_insert_floor(dsn: str, body: str, *, count: int) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(CREATE_TABLE)
        await _timed_inserts(connection, body, WARMUP)
        samples = await _timed_inserts(connection, body, count)
    finally:
        await connection.close()
    latency = summarize_ms(samples)
    progress(f"floor: serial insert+commit p50 {latency['p50']} ms")
    return {"inserts": count, "latency_ms": latency}


async def websocket_floor(frame: str, *, count: int) -> dict[str, Any]:
    """Send ``frame`` from a loopback ``websockets`` server to its client, ``count`` times."""
    accepted: asyncio.Queue[ServerConnection] = asyncio.Queue()
    finished = asyncio.Event()

    async def handler(connection: ServerConnection) -> None:
        await accepted.put(connection)
        await finished.wait()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", proxy=None) as client:
            sender = await accepted.get()
            samples = []
            for _ in range(WARMUP + count):
                started = time.perf_counter()
                await sender.send(frame)
                await client.recv()
                samples.append(time.perf_counter() - started)
            finished.set()
    latency = summarize_ms(samples[WARMUP:])
    progress(f"floor: websocket send-to-receive p50 {latency['p50']} ms")
    return {"frames": count, "frame_bytes": len(frame.encode()), "latency_ms": latency}


def event_data(body: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
    """The ``data`` of relay247's ``request.assigned`` push, shaped and sized like it."""
    return {
        "request_id": request_id or str(uuid.uuid4()),
        "type": body["type"],
        "priority": body["priority"],
        "status": "submitted",
        "requesting_country": "FR",
        "requesting_agency_id": str(uuid.uuid4()),
        "target_country": body["target_country"],
        "handling_code": body["handling_code"],
        "created_at": "2025-01-01T00:00:00.000000+00:00",
        "acknowledged_at": None,
        "acknowledged_by": None,
    }


def event_frame(body: dict[str, Any], request_id: str | None = None) -> str:
    """A frame shaped and sized like relay247's ``request.assigned`` push."""
    frame = {
        "type": "event",
        "channel": f"desk:{body['target_country']}",
        "offset": 1234,
        "event": "request.assigned",
        "data": event_data(body, request_id),
        "at": "2025-01-01T00:00:00.000000+00:00",
    }
    return json.dumps(frame, separators=(",", ":"))


# --- fan-out and resume floors: a bare server in its own process --------------------------


@contextlib.asynccontextmanager
async def bare_server() -> AsyncIterator[str]:
    """Run ``bench.floor_server`` in a subprocess; yield its WebSocket URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.floor_server",
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        if not line.strip().isdigit():
            raise BenchError(f"bench.floor_server did not start (it printed {line!r})")
        yield f"ws://127.0.0.1:{int(line)}"
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def _open_bare(ws_url: str, count: int) -> list[ClientConnection]:
    connections: list[ClientConnection] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = min(CONNECT_BATCH, count - start)
        connections += await asyncio.gather(*(connect(ws_url, proxy=None) for _ in range(batch)))
    return connections


async def websocket_fanout_floor(
    ws_url: str, body: dict[str, Any], *, sockets: int, events: int, grace: float
) -> dict[str, Any]:
    """The bare server broadcasts an event-sized frame to ``sockets`` clients, read by this
    process exactly as relay247's fan-out is (bench.fanout.listen); one event at a time."""
    connections = await _open_bare(ws_url, sockets)
    receipts = Receipts(sockets)
    rounds = []
    try:
        async with listening(connections, receipts):
            for number in range(WARMUP_EVENTS + events):
                key = str(uuid.uuid4())
                command = json.dumps({"broadcast": event_frame(body, key)})
                sent = time.perf_counter()
                await connections[0].send(command)
                await receipts.wait(key, grace)
                if number >= WARMUP_EVENTS:
                    rounds.append((sent, receipts.times.get(key, [])))
    finally:
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
    section = {"sockets": sockets, "events": events, **summarize_rounds(rounds, sockets)}
    progress(
        f"floor: websocket fan-out to {sockets} sockets, receipt p50 "
        f"{section['receipt_latency_ms']['p50']} ms"
    )
    return section


async def websocket_stream_floor(ws_url: str, frame: str, *, count: int) -> dict[str, Any]:
    """The bare server sends ``count`` frames back to back to one client that parses each."""
    async with connect(ws_url, proxy=None) as connection:
        await connection.send(json.dumps({"stream": count, "frame": frame}))
        started = time.perf_counter()
        received = 0
        while "streamed" not in json.loads(await connection.recv()):
            received += 1
        elapsed = time.perf_counter() - started
    return {"frames": received, "elapsed_s": round(elapsed, 3)}


async def select_floor(
    dsn: str, channel: str, after: int, count: int, batch: int
) -> dict[str, Any]:
    """Read the ``count`` events after ``after`` back from the table, ``batch`` rows per query,
    as a backfill does; nothing else."""
    connection = await asyncpg.connect(dsn)
    try:
        rows, cursor = 0, after
        started = time.perf_counter()
        while rows < count:
            fetched = await connection.fetch(SELECT_EVENTS, channel, cursor, batch)
            if not fetched:
                break
            rows += len(fetched)
            cursor = fetched[-1]["offset"]
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
    return {"rows": rows, "batch": batch, "elapsed_s": round(elapsed, 3)}


async def resume_floor(
    dsn: str, ws_url: str, span: ResumeSpan, frame: str, *, batch: int
) -> dict[str, Any]:
    """Reading the events back plus streaming as many frames: one after the other, as a
    server that read everything before sending anything would (an overestimate of the
    floor, since the two could overlap)."""
    select = await select_floor(dsn, span.channel, span.after, span.count, batch)
    stream = await websocket_stream_floor(ws_url, frame, count=span.count)
    elapsed = select["elapsed_s"] + stream["elapsed_s"]
    rate = span.count / elapsed if elapsed else None
    progress(f"floor: resume of {span.count} events, {rate or 0:.0f} events/s")
    return {
        "events": span.count,
        "select": select,
        "stream": stream,
        "elapsed_s": round(elapsed, 3),
        "events_per_s": round(rate, 1) if rate else None,
    }


async def run_floor(
    dsn: str,
    body: dict[str, Any],
    *,
    inserts: int,
    serial: int,
    concurrency: int,
    frames: int,
    fanout_sockets: int,
    fanout_events: int,
    grace: float,
    resume: ResumeSpan | None,
    backfill_batch: int,
) -> dict[str, Any]:
    """Return the ``floor`` section of the report."""
    row = json.dumps(body)
    floor = {
        "insert": await insert_floor(dsn, row, count=inserts, concurrency=concurrency),
        "insert_serial": await serial_insert_floor(dsn, row, count=serial),
        "websocket": await websocket_floor(event_frame(body), count=frames),
    }
    async with bare_server() as ws_url:
        floor["websocket_fanout"] = await websocket_fanout_floor(
            ws_url, body, sockets=fanout_sockets, events=fanout_events, grace=grace
        )
        if resume is not None:
            floor["resume"] = await resume_floor(
                dsn, ws_url, resume, event_frame(body), batch=backfill_batch
            )
    return floor
