"""The hub of one instance: it follows the event table for the channels its sockets hold.

Wake-ups (LISTEN, or the local notifier) only say which channels moved; the hub then re-reads
those channels from the table after the last offset it has read, keeps the newest events of
each channel in a replay buffer shared by every socket, and wakes the sockets of the channels
that advanced. Sockets pull: each sends from its own cursor, out of the shared buffer when it
still holds the next offset and from the table when it does not. So a socket costs the same
memory whether it is idle, resuming from long ago or slow to read: no event is ever copied
into a per-socket queue, and a burst is no reason to drop a client.

A slow poll re-reads every channel in case a wake-up was lost (a listener connection can die
silently), and the listener reconnects by itself; both loops run under the supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.supervisor import Heartbeat
from app.realtime import audience, event_log
from app.realtime.notifier import PG_CHANNEL

# How often the listener proves its connection alive with a query, and how long it waits.
_LISTENER_CHECK_SECONDS = 15.0
_LISTENER_QUERY_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class LiveEvent:
    channel: str
    offset: int
    frame: str  # the JSON text frame, serialised once for every socket
    written_at: float  # epoch seconds its transaction wrote it: push latency counts from here


class Follower(Protocol):
    def wake(self) -> None:
        """Something new on one of its channels; must not block."""

    def add_channel(self, channel: str) -> None:
        """A channel it follows by prefix has appeared; follow it from its first offset."""


def _to_live(event: event_log.StoredEvent) -> LiveEvent:
    frame = {
        "type": "event",
        "channel": event.channel,
        "offset": event.offset,
        "event": event.type,
        "data": event.data,
        "at": event.created_at.isoformat(),
    }
    return LiveEvent(
        event.channel,
        event.offset,
        json.dumps(frame, separators=(",", ":")),
        event.created_at.timestamp(),
    )


class _Feed:
    """One channel as this instance follows it: the last offset read and the newest events."""

    __slots__ = ("followers", "head", "recent")

    def __init__(self, head: int, capacity: int) -> None:
        self.head = head
        self.recent: deque[LiveEvent] = deque(maxlen=capacity)  # consecutive, ending at head
        self.followers: set[Follower] = set()

    def append(self, event: LiveEvent) -> None:
        self.recent.append(event)
        self.head = event.offset

    def after(self, offset: int, limit: int) -> list[LiveEvent] | None:
        """Up to ``limit`` events after ``offset`` from memory; None if memory no longer
        holds the next one."""
        if offset >= self.head:
            return []
        recent = self.recent
        if not recent or recent[0].offset > offset + 1:
            return None
        start = offset + 1 - recent[0].offset
        # By index, not islice: a deque is indexed from its nearer end, and sockets nearly
        # always want the newest few, so this costs O(events sent), not O(buffer) per socket.
        return [recent[i] for i in range(start, min(start + limit, len(recent)))]


class Hub:
    def __init__(
        self,
        engine: AsyncEngine,
        dsn: str,
        *,
        poll_interval: float,
        batch: int,
        replay_capacity: int,
    ) -> None:
        self._engine = engine  # a small pool of its own: REST load cannot starve delivery
        self._dsn = dsn
        self._poll_interval = poll_interval
        self._batch = batch
        self._capacity = replay_capacity
        self._feeds: dict[str, _Feed] = {}
        self._prefix_followers: dict[str, set[Follower]] = {}
        self._dirty: set[str] = set()
        self._discovered: set[str] = set()
        self._woken = asyncio.Event()
        # Wake-ups that are no event channel: a name, and who is told (the deadline worker).
        self._signals: dict[str, Callable[[], None]] = {}
        # The local notifier wakes this hub directly; its NOTIFY coming back is ignored.
        self.own_notifier_pid: Callable[[], int | None] = lambda: None

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    # --- following channels --------------------------------------------------------------

    async def follow(
        self, follower: Follower, channels: Iterable[str], *, prefix: str | None = None
    ) -> dict[str, int]:
        """Register ``follower`` on ``channels`` (and on channels that appear later with
        ``prefix``); return each channel's head: the offset this hub has read up to."""
        channels = list(channels)
        new = [c for c in channels if c not in self._feeds]
        if new:
            async with self._engine.connect() as connection:
                db_heads = await event_log.heads(connection, new)
            for channel in new:
                # Another follower may have made the feed while this one awaited.
                self._feeds.setdefault(channel, _Feed(db_heads[channel], self._capacity))
        for channel in channels:
            self._feeds[channel].followers.add(follower)
        if prefix is not None:
            self._prefix_followers.setdefault(prefix, set()).add(follower)
        self.wake(channels)  # anything committed since those heads were read
        return {channel: self._feeds[channel].head for channel in channels}

    def add_to_channel(self, follower: Follower, channel: str) -> None:
        """Follow one more channel, from its first event (see :meth:`Follower.add_channel`)."""
        feed = self._feeds.setdefault(channel, _Feed(0, self._capacity))
        feed.followers.add(follower)

    def unfollow(self, follower: Follower, channels: Iterable[str]) -> None:
        for channel in channels:
            feed = self._feeds.get(channel)
            if feed is None:
                continue
            feed.followers.discard(follower)
            if not feed.followers:
                del self._feeds[channel]
        for prefix, followers in list(self._prefix_followers.items()):
            followers.discard(follower)
            if not followers:
                del self._prefix_followers[prefix]

    def head(self, channel: str) -> int:
        feed = self._feeds.get(channel)
        return feed.head if feed is not None else 0

    def buffered_after(self, channel: str, offset: int, limit: int) -> list[LiveEvent] | None:
        """Up to ``limit`` consecutive events of ``channel`` after ``offset`` from the replay
        buffer; None when it no longer holds the next one (then see :meth:`read_after`)."""
        feed = self._feeds.get(channel)
        return feed.after(offset, limit) if feed is not None else None

    async def read_after(self, channel: str, offset: int, limit: int) -> list[LiveEvent]:
        """The same, from the table: for a socket further behind than the buffer reaches."""
        async with self._engine.connect() as connection:
            stored = await event_log.read_since(connection, {channel: offset}, per_channel=limit)
        return [_to_live(event) for event in stored]

    def on_signal(self, name: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` (which must not block) whenever a committed transaction here or
        on another instance woke ``name`` (app.core.database.wake_after_commit)."""
        self._signals[name] = callback

    def wake(self, channels: Iterable[str]) -> None:
        for channel in channels:
            signal = self._signals.get(channel)
            if signal is not None:
                signal()
            elif channel in self._feeds:
                self._dirty.add(channel)
            elif any(channel.startswith(prefix) for prefix in self._prefix_followers):
                self._discovered.add(channel)
        if self._dirty or self._discovered:
            self._woken.set()

    # --- reading the event table ---------------------------------------------------------

    def _adopt(self, channels: Iterable[str]) -> set[str]:
        """Channels that appeared with a followed prefix: their followers read them from the
        first offset. Returns the channels now followed."""
        adopted = set()
        for channel in channels:
            if channel in self._feeds:
                continue
            for prefix, followers in self._prefix_followers.items():
                if channel.startswith(prefix):
                    for follower in tuple(followers):
                        follower.add_channel(channel)
                        adopted.add(channel)
        return adopted

    async def _catch_up(self, channels: set[str]) -> None:
        pending = {c: self._feeds[c].head for c in channels if c in self._feeds}
        while pending:
            async with self._engine.connect() as connection:
                batch = await event_log.read_since(connection, pending, per_channel=self._batch)
            counts: dict[str, int] = {}
            for stored in batch:
                feed = self._feeds.get(stored.channel)
                if feed is None or stored.offset != feed.head + 1:
                    continue  # unfollowed meanwhile, or followed again from a later head
                feed.append(_to_live(stored))
                counts[stored.channel] = counts.get(stored.channel, 0) + 1
            for channel in counts:
                feed = self._feeds.get(channel)
                for follower in tuple(feed.followers) if feed else ():
                    follower.wake()
            pending = {
                c: self._feeds[c].head
                for c, n in counts.items()
                if n >= self._batch and c in self._feeds
            }

    async def dispatch(self, beat: Heartbeat) -> None:
        """Supervised loop: read what moved, or everything every poll interval."""
        if self._dirty or self._discovered:
            self._woken.set()  # left over from a run of this loop that failed
        while True:
            polled = False
            try:
                await asyncio.wait_for(self._woken.wait(), timeout=self._poll_interval)
            except TimeoutError:
                self._dirty.update(self._feeds)  # the safety net: re-read everything
                polled = True
            self._woken.clear()
            dirty, self._dirty = self._dirty, set()
            discovered, self._discovered = self._discovered, set()
            try:
                if polled and self._prefix_followers:
                    async with self._engine.connect() as connection:
                        discovered.update(await audience.desk_channels(connection))
                dirty |= self._adopt(discovered)
                await self._catch_up(dirty)
            except BaseException:
                self._dirty |= dirty  # for the restarted loop
                raise
            beat()

    async def listen(self, beat: Heartbeat) -> None:
        """Supervised loop: LISTEN until the connection is lost, then fail so the supervisor
        starts it again (and /readyz says so meanwhile)."""
        connection = await asyncpg.connect(self._dsn, timeout=_LISTENER_QUERY_TIMEOUT)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(PG_CHANNEL, self._on_notify)
            self.wake(list(self._feeds))  # whatever moved while nobody listened
            beat()
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=_LISTENER_CHECK_SECONDS)
                if lost.is_set():
                    raise ConnectionError("the LISTEN connection was closed by the server")
                # A connection can die without a word; a query proves it is alive.
                await asyncio.wait_for(connection.execute("SELECT 1"), _LISTENER_QUERY_TIMEOUT)
                beat()
        finally:
            connection.terminate()

    @staticmethod
    def listener_stall_bound() -> float:
        return 2 * (_LISTENER_CHECK_SECONDS + _LISTENER_QUERY_TIMEOUT)

    def _on_notify(self, _connection: object, pid: int, _channel: str, payload: str) -> None:
        if pid != self.own_notifier_pid():
            self.wake(payload.split(","))
