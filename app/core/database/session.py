"""Engine and the unit of work: one transaction per use case.

Services ``flush()`` and never ``commit()``; :meth:`Database.transaction` commits on success
and rolls back on error. Channels that received event rows are woken only after the commit,
so a rolled-back change never wakes anyone. The wake-up hangs on the session's own commit
event, so it fires for every session of this database that commits, however it was opened.

Besides channels (which are also sent to the other instances by NOTIFY), a transaction can
raise a local signal: a callback of this process called after the commit, with no round trip
at all (the audit sealer is woken so, by every transaction that wrote an audit entry).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from app.core.database.pool import discard_closed_connections
from app.core.database.urls import sqlalchemy_url

_WOKEN_CHANNELS = "relay247.woken_channels"
_LOCAL_SIGNALS = "relay247.local_signals"

WakeCallback = Callable[[Iterable[str]], None]


def wake_after_commit(session: AsyncSession, channel: str) -> None:
    """Ask for ``channel``'s listeners to be woken once this transaction commits."""
    session.info.setdefault(_WOKEN_CHANNELS, set()).add(channel)


def signal_after_commit(session: AsyncSession, name: str) -> None:
    """Call this process's callbacks for ``name`` once this transaction commits (and never
    if it rolls back); nothing leaves the process."""
    session.info.setdefault(_LOCAL_SIGNALS, set()).add(name)


def create_engine(
    url: str, *, pool_size: int, max_overflow: int, pool_timeout: float
) -> AsyncEngine:
    """Every engine of the service is made here, so each has the same protections."""
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: with asyncpg it costs a BEGIN/ROLLBACK round trip on every checkout
        # (measured: as many pings as real transactions). A connection found dead is
        # replaced at checkout (see pool.py), and recycling bounds how stale any can get.
        pool_recycle=300,
        pool_timeout=pool_timeout,
        # A failed statement's error would otherwise quote its parameters: request content.
        hide_parameters=True,
    )
    discard_closed_connections(engine)
    return engine


class Database:
    def __init__(
        self, url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 3
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout
        )
        self._on_commit: list[WakeCallback] = []
        self._on_signal: dict[str, list[Callable[[], None]]] = {}
        # A session class of this database's own, so its commit hooks wake only its listeners.
        session_class = type("Relay247Session", (Session,), {})
        event.listen(session_class, "after_commit", self._after_commit)
        event.listen(session_class, "after_soft_rollback", self._after_rollback)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=session_class
        )

    def on_commit(self, callback: WakeCallback) -> None:
        """Register who is told which channels a committed transaction wrote to."""
        self._on_commit.append(callback)

    def on_signal(self, name: str, callback: Callable[[], None]) -> None:
        """Register ``callback`` (which must not block) for the local signal ``name``."""
        self._on_signal.setdefault(name, []).append(callback)

    def _after_commit(self, session: Session) -> None:
        channels = session.info.pop(_WOKEN_CHANNELS, None)
        if channels:
            for callback in self._on_commit:
                callback(channels)
        for name in session.info.pop(_LOCAL_SIGNALS, ()):
            for signal in self._on_signal.get(name, ()):
                signal()

    def _after_rollback(self, session: Session, _previous: SessionTransaction) -> None:
        session.info.pop(_WOKEN_CHANNELS, None)
        session.info.pop(_LOCAL_SIGNALS, None)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
