"""`relay247 analytics rebuild [--check]`: the response figures recomputed from the records."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.analytics import outcomes
from app.cli.app import AUDIT, Relay247Typer, cli
from app.cli.common import database_url, echo_err
from app.core.database import Database
from app.core.database.migrate import SchemaOutOfDateError, assert_schema_current

analytics_cli = Relay247Typer(
    help="Response analytics: rebuild (or check) the per-request figures from the records.",
    no_args_is_help=True,
)
cli.add_typer(analytics_cli, name="analytics", rich_help_panel=AUDIT)


async def _run(url: str, *, check: bool) -> outcomes.Differences | int:
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        await assert_schema_current(database.engine)
        async with database.transaction() as session:
            if check:
                return await outcomes.differences(session)
            return await outcomes.rebuild(session)
    finally:
        await database.dispose()


@analytics_cli.command()
def rebuild(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Change nothing: compare the table with the records, exit 1 if they differ.",
        ),
    ] = False,
) -> None:
    """Recompute every final request's figures (request_outcomes) from the records they are
    derived from: the requests' times, escalation and legal clock, their first
    acknowledgement deadline and the target's time zone; then the rollup the aggregates
    and /metrics read (counts and duration histograms per day and cell, per month and
    country pair, and over all time) from those figures.

    The service writes each request's figures as it becomes final; this rebuilds them all
    in one transaction (after the upgrade that added them, say). With --check it only
    says how many rows differ from what the records give (and the rollup's from the
    figures)."""
    try:
        result = asyncio.run(_run(database_url(), check=check))
    except SchemaOutOfDateError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from None
    if isinstance(result, int):
        typer.echo(f"rebuilt: {result} request outcome{'' if result == 1 else 's'}")
        return
    if result.none:
        typer.echo("request_outcomes matches the records; the rollup, request_outcomes")
        return
    if result.extra or result.missing:
        typer.echo(
            f"request_outcomes differs from the records: {result.extra} row(s) the records do "
            f"not give, {result.missing} row(s) they give that the table lacks"
        )
    if result.rollup_extra or result.rollup_missing:
        typer.echo(
            f"the rollup differs from request_outcomes: {result.rollup_extra} row(s) it does "
            f"not give, {result.rollup_missing} row(s) it gives that the rollup lacks"
        )
    raise typer.Exit(1)
