"""Tools for delivery tests: events written as another instance would, and a dashboard that
records every offset it is sent, survives drops by resuming, and says when it has seen a
sentinel event on each of its channels."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable

import asyncpg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.factories import Party

SENTINEL = "test.sentinel"


async def append_raw_events(
    dsn: str, channel: str, count: int, *, pad: int = 0, event_type: str = "request.updated"
) -> int:
    """Write ``count`` events straight into the table in one transaction and wake the hubs;
    return the last offset."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            last: int = await connection.fetchval(
                "INSERT INTO channels AS c (name, last_offset) VALUES ($1, $2) "
                "ON CONFLICT (name) DO UPDATE SET last_offset = c.last_offset + $2 "
                "RETURNING last_offset",
                channel,
                count,
            )
            await connection.executemany(
                'INSERT INTO events (channel, "offset", type, data) VALUES ($1, $2, $3, $4::jsonb)',
                [
                    (channel, offset, event_type, json.dumps({"pad": "x" * pad}))
                    for offset in range(last - count + 1, last + 1)
                ],
            )
        await connection.execute("SELECT pg_notify('relay247_events', $1)", channel)
    finally:
        await connection.close()
    return last


async def channel_heads(dsn: str, channels: Iterable[str]) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT name, last_offset FROM channels WHERE name = ANY($1)", list(channels)
        )
    finally:
        await connection.close()
    found = {row["name"]: row["last_offset"] for row in rows}
    return {channel: found.get(channel, 0) for channel in channels}


class Recorder:
    """A dashboard that keeps its cursors as a real client does: it resumes from the last
    offset it processed after every drop, and records each offset it is sent."""

    def __init__(self, ws_url: str, party: Party, cursors: dict[str, int]) -> None:
        self.ws_url = ws_url
        self.party = party
        self.start = dict(cursors)
        self.cursors = dict(cursors)
        self.offsets: dict[str, list[int]] = {channel: [] for channel in cursors}
        # Which connection (1, 2, ...) delivered each offset, and the error frames the server
        # sent: a flaky duplicate then says which connections sent both copies, and why.
        self.delivered_on: dict[str, list[int]] = {channel: [] for channel in cursors}
        self.errors: list[str] = []
        self.sentinels: dict[str, int] = {}
        self.closes: list[int | None] = []
        self.connections = 0
        self._connection: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self.connected = asyncio.Event()  # set once it has connected the first time

    def start_running(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                async with connect(
                    self.ws_url, additional_headers=self.party.headers, open_timeout=30
                ) as connection:
                    self._connection = connection
                    self.connections += 1
                    self.connected.set()
                    await connection.send(json.dumps({"type": "resume", "cursors": self.cursors}))
                    async for raw in connection:
                        self._take(json.loads(raw))
            except ConnectionClosed as exc:
                self.closes.append(exc.rcvd.code if exc.rcvd else None)
            except OSError:
                self.closes.append(None)
            await asyncio.sleep(0.05)

    def _take(self, frame: dict[str, object]) -> None:
        if frame["type"] == "error":  # a Recorder's resume is always valid: never expected
            self.errors.append(f"on connection {self.connections}: {frame}")
        if frame["type"] != "event":
            return
        channel, offset = str(frame["channel"]), int(str(frame["offset"]))
        self.offsets.setdefault(channel, []).append(offset)
        self.delivered_on.setdefault(channel, []).append(self.connections)
        self.cursors[channel] = offset
        if frame["event"] == SENTINEL:
            self.sentinels[channel] = offset
        self._progress.set()

    def drop(self) -> None:
        """Cut the connection as a network failure would: no closing handshake."""
        if self._connection is not None:
            self._connection.transport.abort()

    async def wait_for_sentinels(self, sentinels: dict[str, int], seconds: float) -> None:
        async with asyncio.timeout(seconds):
            while any(self.sentinels.get(c) != n for c, n in sentinels.items() if c in self.start):
                self._progress.clear()
                await self._progress.wait()

    def problems(self) -> list[str]:
        """Every channel must have each offset after its start exactly once, in order."""
        found = []
        for channel, offsets in self.offsets.items():
            first = self.start.get(channel, 0) + 1
            expected = list(range(first, first + len(offsets)))
            if offsets != expected:
                duplicates = len(offsets) - len(set(offsets))
                copies: dict[int, list[int]] = {}
                for offset, connection in zip(offsets, self.delivered_on[channel], strict=True):
                    copies.setdefault(offset, []).append(connection)
                twice = {o: c for o, c in copies.items() if len(c) > 1}
                found.append(
                    f"{channel}: {duplicates} duplicates; not consecutive from {first}; "
                    f"connections that sent each repeated offset: {dict(list(twice.items())[:5])}"
                )
            end = self.sentinels.get(channel)
            if end is not None and (not offsets or offsets[-1] != end):
                found.append(f"{channel}: ends at {offsets[-1:]} not at the sentinel {end}")
        found += [f"error frame {error}" for error in self.errors[:3]]
        return found

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def until_sentinels(
    recorders: list[Recorder], dsn: str, channels: list[str], seconds: float
) -> dict[str, int]:
    """Write a sentinel event on each channel, wait until every recorder has had each of its
    channels' sentinel, stop them all; return the sentinels' offsets."""
    sentinels = {c: await append_raw_events(dsn, c, 1, event_type=SENTINEL) for c in channels}
    try:
        for recorder in recorders:
            await recorder.wait_for_sentinels(sentinels, seconds)
    finally:
        for recorder in recorders:
            await recorder.stop()
    return sentinels
