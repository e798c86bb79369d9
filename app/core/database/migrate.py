"""Alembic, driven from code: `relay247 migrate` and the schema check at start-up."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

import app


class SchemaOutOfDateError(RuntimeError):
    def __init__(self, current: str | None, head: str | None) -> None:
        super().__init__(
            f"the database schema is at revision {current or '(empty)'} but this relay247 "
            f"needs {head}: run `relay247 migrate` first"
        )


def migrations_dir() -> Path:
    # A wheel carries the revisions inside the package (pyproject force-include); a source
    # checkout keeps them at the top of the repository.
    package = Path(app.__file__).resolve().parent
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("the Alembic migrations folder is missing from this installation")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Passed as an attribute, not an ini option, so '%' in a password needs no escaping.
    config.attributes["database_url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Blocking: runs the revisions on an event loop of their own (from async code: a thread)."""
    command.upgrade(alembic_config(url), "head")


@functools.cache
def head_revision() -> str | None:
    """Read once per process: Alembic compiles every revision file to find it (30-40 ms,
    blocking), and an installed version's revisions do not change while it runs."""
    script = ScriptDirectory(str(migrations_dir()))
    return script.get_current_head()


async def assert_schema_current(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        current = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    head = head_revision()
    if current != head:
        raise SchemaOutOfDateError(current, head)
