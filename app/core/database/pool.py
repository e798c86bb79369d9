"""Pooled connections that died while idle are replaced at checkout, at no cost.

After a Postgres restart or failover every idle pooled connection is dead, and the first
transaction on each would fail. A pre-ping would catch that at the price of a round trip on
every checkout; but an idle asyncpg connection whose server went away already knows it (the
event loop saw the socket close), so asking it costs nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection


def _refuse_closed_connection(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    # record.driver_connection is the asyncpg connection under SQLAlchemy's adapter.
    if record.driver_connection is not None and record.driver_connection.is_closed():
        # The pool discards this connection and checks out the same slot with a new one.
        raise DisconnectionError("the server closed this pooled connection while it was idle")


def discard_closed_connections(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
