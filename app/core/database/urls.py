"""One Postgres URL, spelled for each client that needs it."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg"}


def sqlalchemy_url(url: str) -> URL:
    """The URL for SQLAlchemy's asyncpg dialect, whatever scheme the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername not in _SCHEMES:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {parsed.drivername}://")
    return parsed.set(drivername="postgresql+asyncpg")


def asyncpg_dsn(url: str) -> str:
    """The URL for a bare asyncpg connection (LISTEN/NOTIFY, benchmarks)."""
    return sqlalchemy_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    """The same server, another database (tests and the embedded server create their own)."""
    return sqlalchemy_url(url).set(database=database).render_as_string(hide_password=False)
