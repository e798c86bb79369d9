"""`relay247 purge`: the purge job's work, on demand, from the shell."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.cli.app import AUDIT, cli
from app.cli.common import database_url, echo_err
from app.core.database import Database
from app.core.database.migrate import SchemaOutOfDateError, assert_schema_current
from app.exchange.files.storage import blob_store
from app.retention.job import BATCH
from app.retention.purge import PurgeReport, purge_due

# A dry run reads in one go: it claims nothing, so it cannot page by what it has purged.
_DRY_RUN_MAX = 1_000_000


async def _purge(url: str, *, dry_run: bool, limit: int | None) -> PurgeReport:
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        await assert_schema_current(database.engine)
        store = blob_store(database)
        if dry_run:
            async with database.transaction() as session:
                return await purge_due(session, store, limit=limit or _DRY_RUN_MAX, dry_run=True)
        # One transaction per batch, as the job does: each commits its requests' purge.
        report = PurgeReport([], 0, dry_run=False)
        while True:
            batch = BATCH if limit is None else min(BATCH, limit - len(report.requests))
            if batch <= 0:
                return report
            async with database.transaction() as session:
                part = await purge_due(session, store, limit=batch, dry_run=False)
            report += part
            if len(part.requests) < batch:
                return report
    finally:
        await database.dispose()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@cli.command(rich_help_panel=AUDIT)
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be purged; change nothing.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Purge at most this many requests.")
    ] = None,
) -> None:
    """Purge the content of the requests whose retention has ended.

    What the service's purge job does every RELAY247_PURGE_INTERVAL, on demand: one line per
    request, then the total."""
    try:
        report = asyncio.run(_purge(database_url(), dry_run=dry_run, limit=limit))
    except SchemaOutOfDateError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc
    header = f"{'request':36}  {'type':22}  {'closed_at':25}  {'retain_until':25}  messages  files"
    lines = [header] if report.requests else []
    for item in report.requests:
        lines.append(
            f"{item.request_id!s:36}  {item.type.value:22}  "
            f"{item.closed_at.isoformat(timespec='seconds'):25}  "
            f"{item.retain_until.isoformat(timespec='seconds'):25}  "
            f"{item.messages:8}  {item.files:5}"
        )
    blobs = _plural(report.blobs_deleted, "stored file")
    total = (
        f"{_plural(len(report.requests), 'request')} ({_plural(report.messages, 'message')}, "
        f"{_plural(report.files, 'file')}; the bytes of {blobs} deleted)"
    )
    if dry_run:
        lines.append(f"dry run: would purge {total}; nothing was changed")
    else:
        lines.append(f"purged {total}")
    typer.echo("\n".join(lines))
