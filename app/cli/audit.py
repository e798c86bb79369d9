"""`relay247 audit verify --db`: checks the live audit table's hash chain."""

from __future__ import annotations

import asyncio
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import typer

from app.cli.app import audit_cli
from app.cli.common import check_schema, database_url, echo_err
from app.database.urls import asyncpg_dsn
from app.services.audit.chain import utc_timestamp
from app.services.audit.verify import DatabaseReport, verify_database

# Unsealed entries older than this are worth a word: no instance is sealing.
_STALE_UNSEALED = 60.0


class _Progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise (logs, pipes)."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._bar: Any = None
        self._shown = 0

    def __call__(self, read: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self._bar is None:
            bar = typer.progressbar(length=total, label="verifying", file=sys.stderr)
            self._bar = self._stack.enter_context(bar)
        self._bar.update(read - self._shown)
        self._shown = read


async def _verify(url: str, stack: ExitStack) -> DatabaseReport:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await verify_database(connection, progress=_Progress(stack))
    finally:
        await connection.close()


def _print(report: DatabaseReport) -> None:
    if report.fault is not None:
        typer.echo(f"audit chain FAULT at {report.fault}")
        typer.echo(f"{report.checked} entries before it verified; {report.sealed} sealed in all")
    elif report.checked:
        typer.echo(
            f"audit chain verified: {report.checked} entries, positions 1 to "
            f"{report.head_position}, head hash {report.head_hash}"
        )
    else:
        typer.echo("audit chain verified: no entry sealed yet")
    if report.unsealed and report.oldest_unsealed_at is not None:
        age = (datetime.now(UTC) - report.oldest_unsealed_at).total_seconds()
        typer.echo(
            f"{report.unsealed} entries not sealed yet (oldest written "
            f"{utc_timestamp(report.oldest_unsealed_at)})"
        )
        if age > _STALE_UNSEALED:
            typer.echo(
                f"warning: an entry has waited {age:.0f}s to be sealed: is a relay247 "
                "instance running? Its sealer seals them."
            )
    else:
        typer.echo("no entry waiting to be sealed")


@audit_cli.command()
def verify(
    db: Annotated[
        bool, typer.Option("--db", help="Verify the live audit table of DATABASE_URL.")
    ] = False,
) -> None:
    """Recompute every sealed entry's hash in chain order and report the first bad entry and
    why; exit 1 on any fault, 0 when the whole chain holds."""
    if not db:
        echo_err("relay247: say what to verify: --db for the live audit table")
        raise typer.Exit(2)
    url = database_url()
    check_schema(url)
    with ExitStack() as stack:
        report = asyncio.run(_verify(url, stack))
    _print(report)
    if report.fault is not None:
        raise typer.Exit(1)
