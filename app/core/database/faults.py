"""Which failures mean "the database is unavailable": the one place that tells a fault to
answer 503 with Retry-After (nothing is wrong with the request, come back shortly) from a
fault that is a bug (500)."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

# The socket could not be opened or broke (OSError: refused, reset, unreachable, timed out),
# or asyncpg says the server refuses new sessions, ended ours, or the connection broke.
_UNAVAILABLE = (
    OSError,
    asyncpg.ClientCannotConnectError,  # 08001
    asyncpg.ConnectionRejectionError,  # 08004
    asyncpg.ConnectionFailureError,  # 08006
    asyncpg.ConnectionDoesNotExistError,  # 08003, also "closed in the middle of operation"
    asyncpg.TransactionResolutionUnknownError,  # 08007
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,  # 57P01
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the database cannot be reached or used for
    now: unreachable, restarting, out of connections, or this process's pool is exhausted."""
    for current in _chain(exc):
        if isinstance(current, sa_exc.TimeoutError):  # no pooled connection came free in time
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _UNAVAILABLE):
            return True
    return False


def is_deadlock(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) is Postgres ending a transaction that waited on
    another in a cycle (40P01): nothing of it was written, and it may be retried. Two writes
    on the authority of one token that both lock it for a change (two revocations of the
    caller's own token at once) do: each holds it FOR SHARE (app/identity/auth.py)."""
    return any(isinstance(current, asyncpg.DeadlockDetectedError) for current in _chain(exc))


def caused_by(
    exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]
) -> bool:
    """True when ``exc`` or what it wraps is a ``kind``."""
    return any(isinstance(current, kind) for current in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps, each once: SQLAlchemy keeps the driver's error as .orig,
    and its asyncpg adapter raises from it."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [getattr(current, "orig", None), current.__cause__]
