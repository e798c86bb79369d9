"""Postgres access: engine and unit of work, embedded server, schema migrations."""

from app.core.database.session import Database, wake_after_commit

__all__ = ["Database", "wake_after_commit"]
