"""The floor: what Postgres and a WebSocket give on this machine with nothing in between.

* ``insert``: a bare asyncpg ``INSERT`` of a JSON row like a request's into ``bench_floor``,
  in autocommit (one round trip, and the commit's WAL flush), ``concurrency`` connections
  each inserting in a loop: inserts per second and per-insert latency under that load.
* ``insert_serial``: the same insert, one at a time on one connection: the latency of a
  durable write on an idle server, the part of a push that storing the request must cost.
* ``websocket``: a bare ``websockets`` server on loopback sends a text frame the size of a
  relay247 event frame to its one client, one frame at a time; send-to-receive latency.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from bench.progress import progress
from bench.stats import summarize_ms

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_floor (
    id uuid PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = "INSERT INTO bench_floor (id, body) VALUES ($1, $2)"
WARMUP = 20


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


def event_frame(body: dict[str, Any]) -> str:
    """A frame shaped and sized like relay247's ``request.assigned`` push."""
    data = {
        "request_id": str(uuid.uuid4()),
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
    frame = {
        "type": "event",
        "channel": f"desk:{body['target_country']}",
        "offset": 1234,
        "event": "request.assigned",
        "data": data,
        "at": "2025-01-01T00:00:00.000000+00:00",
    }
    return json.dumps(frame, separators=(",", ":"))


async def run_floor(
    dsn: str, body: dict[str, Any], *, inserts: int, serial: int, concurrency: int, frames: int
) -> dict[str, Any]:
    """Return the ``floor`` section of the report."""
    row = json.dumps(body)
    return {
        "insert": await insert_floor(dsn, row, count=inserts, concurrency=concurrency),
        "insert_serial": await serial_insert_floor(dsn, row, count=serial),
        "websocket": await websocket_floor(event_frame(body), count=frames),
    }
