"""The hub of one instance: it follows the event table for the channels its sockets hold.

Wake-ups (LISTEN, or the local notifier) only say which channels moved; the hub then re-reads
those channels from the table after the last offset it has seen and offers each event, in
offset order, to every local socket on that channel. A slow poll re-reads every channel in
case a wake-up was lost (a listener connection can die silently), and the listener reconnects
by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from sqlalchemy.exc import DBAPIError, OperationalError

from app.database import Database
from app.realtime.notifier import PG_CHANNEL
from app.services import events as event_log

log = logging.getLogger(__name__)

_LISTENER_CHECK_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class LiveEvent:
    channel: str
    offset: int
    frame: str  # the JSON text frame, serialised once for every socket


class Subscriber(Protocol):
    def offer(self, event: LiveEvent) -> None:
        """Take an event without blocking; a subscriber that cannot keep up drops out."""


def _to_live(event: event_log.StoredEvent) -> LiveEvent:
    frame = {
        "type": "event",
        "channel": event.channel,
        "offset": event.offset,
        "event": event.type,
        "data": event.data,
        "at": event.created_at.isoformat(),
    }
    return LiveEvent(event.channel, event.offset, json.dumps(frame, separators=(",", ":")))


class Hub:
    def __init__(self, database: Database, dsn: str, *, poll_interval: float, batch: int) -> None:
        self._database = database
        self._dsn = dsn
        self._poll_interval = poll_interval
        self._batch = batch
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._heads: dict[str, int] = {}  # last offset read, per channel with local sockets
        self._dirty: set[str] = set()
        self._woken = asyncio.Event()
        # The local notifier wakes this hub directly; its NOTIFY coming back is ignored.
        self.own_notifier_pid: Callable[[], int | None] = lambda: None

    # --- subscriptions -------------------------------------------------------------------

    async def subscribe(self, subscriber: Subscriber, channels: Iterable[str]) -> dict[str, int]:
        """Register ``subscriber``; return, per channel, the offset its live events follow."""
        channels = list(channels)
        async with self._database.engine.connect() as connection:
            db_heads = await event_log.heads(connection, channels)
        cursors = {}
        for channel in channels:
            # Keep an earlier head if the hub already follows the channel: the events between
            # it and the database's head are on their way to this subscriber too.
            cursors[channel] = self._heads.setdefault(channel, db_heads[channel])
            self._subscribers.setdefault(channel, set()).add(subscriber)
        self.wake(channels)
        return cursors

    def unsubscribe(self, subscriber: Subscriber) -> None:
        for channel in [c for c, subs in self._subscribers.items() if subscriber in subs]:
            self._subscribers[channel].discard(subscriber)
            if not self._subscribers[channel]:
                del self._subscribers[channel]
                del self._heads[channel]

    def wake(self, channels: Iterable[str]) -> None:
        self._dirty.update(c for c in channels if c in self._heads)
        if self._dirty:
            self._woken.set()

    # --- reading the event table ---------------------------------------------------------

    async def read_since(self, cursors: dict[str, int]) -> list[LiveEvent]:
        """At most one batch of events per channel after the given offsets (for backfills)."""
        async with self._database.engine.connect() as connection:
            stored = await event_log.read_since(connection, cursors, per_channel=self._batch)
        return [_to_live(event) for event in stored]

    async def heads(self, channels: Iterable[str]) -> dict[str, int]:
        async with self._database.engine.connect() as connection:
            return await event_log.heads(connection, channels)

    async def _catch_up(self, channels: set[str]) -> None:
        pending = {c: self._heads[c] for c in channels if c in self._heads}
        while pending:
            batch = await self.read_since(pending)
            counts: dict[str, int] = {}
            for event in batch:
                if event.channel not in self._heads or event.offset <= self._heads[event.channel]:
                    continue  # unsubscribed meanwhile, or already dispatched
                self._heads[event.channel] = event.offset
                counts[event.channel] = counts.get(event.channel, 0) + 1
                for subscriber in tuple(self._subscribers.get(event.channel, ())):
                    subscriber.offer(event)
            pending = {
                c: self._heads[c]
                for c, n in counts.items()
                if n >= self._batch and c in self._heads
            }

    # --- tasks ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self._dispatch_loop(), name="relay247-hub-dispatch"),
            asyncio.create_task(self._listen_loop(), name="relay247-hub-listen"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _dispatch_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._woken.wait(), timeout=self._poll_interval)
            except TimeoutError:
                self._dirty.update(self._heads)  # the safety net: re-read everything
            self._woken.clear()
            dirty, self._dirty = self._dirty, set()
            if not dirty:
                continue
            try:
                await self._catch_up(dirty)
            except (OSError, DBAPIError, OperationalError) as exc:
                log.warning("hub could not read events (%s); retrying", exc)
                self._dirty |= dirty
                await asyncio.sleep(0.5)

    async def _listen_loop(self) -> None:
        while True:
            try:
                await self._listen_once()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event listener lost (%s); reconnecting", exc)
            await asyncio.sleep(1.0)

    def _on_notify(self, _connection: object, pid: int, _channel: str, payload: str) -> None:
        if pid != self.own_notifier_pid():
            self.wake(payload.split(","))

    async def _listen_once(self) -> None:
        """LISTEN until the connection is lost; return or raise when it is."""
        connection = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(PG_CHANNEL, self._on_notify)
            self.wake(list(self._heads))  # whatever moved while nobody listened
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=_LISTENER_CHECK_SECONDS)
                if not lost.is_set():
                    # A connection can die without a word; a query proves it is alive.
                    await asyncio.wait_for(connection.execute("SELECT 1"), timeout=5)
        finally:
            if not connection.is_closed():
                await connection.close()
