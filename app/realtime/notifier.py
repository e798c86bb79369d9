"""Wake-ups after commit, coalesced.

Event rows are the truth; a notification only says "channel X has something new". It is sent
after commit (a NOTIFY inside the write transaction takes a global lock at commit), and every
channel woken while one NOTIFY is in flight rides on the next. The local hub is woken at once,
without a round trip through Postgres.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import asyncpg

from app.core.supervisor import Heartbeat

PG_CHANNEL = "relay247_events"
_MAX_PAYLOAD = 7900  # Postgres refuses a NOTIFY payload of 8000 bytes or more
_TIMEOUT = 5.0  # connect and send; a hung NOTIFY fails the loop, which is then restarted


def _payloads(channels: set[str]) -> list[str]:
    payloads, current = [], ""
    for channel in sorted(channels):
        if current and len(current) + len(channel) + 1 > _MAX_PAYLOAD:
            payloads.append(current)
            current = ""
        current = f"{current},{channel}" if current else channel
    return [*payloads, current] if current else payloads


class Notifier:
    def __init__(self, dsn: str, *, wake_local: Callable[[Iterable[str]], None]) -> None:
        self._dsn = dsn
        self._wake_local = wake_local
        self._pending: set[str] = set()
        self._ready = asyncio.Event()
        self.backend_pid: int | None = None  # of the connection NOTIFY is sent from

    def wake(self, channels: Iterable[str]) -> None:
        """Called after a commit; never blocks."""
        channels = set(channels)
        self._wake_local(channels)
        self._pending |= channels
        self._ready.set()

    async def run(self, beat: Heartbeat) -> None:
        """Supervised loop. While it is down, other instances' hubs catch up by their poll:
        nothing is lost, only late."""
        connection = await asyncpg.connect(self._dsn, timeout=_TIMEOUT)
        try:
            self.backend_pid = connection.get_server_pid()
            beat()
            while True:
                await self._ready.wait()
                self._ready.clear()
                batch, self._pending = self._pending, set()
                try:
                    for payload in _payloads(batch):
                        await asyncio.wait_for(
                            connection.execute("SELECT pg_notify($1, $2)", PG_CHANNEL, payload),
                            _TIMEOUT,
                        )
                except BaseException:
                    self._pending |= batch  # sent again by the restarted loop
                    self._ready.set()
                    raise
                beat()
        finally:
            self.backend_pid = None
            connection.terminate()
