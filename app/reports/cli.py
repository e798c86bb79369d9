"""`relay247 report`: verify a report offline (no database), generate one, make the periodic
ones due now."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from app.audit.keys import KeyHolder, PublicKeyError, SigningKeyError, parse_public_keys
from app.cli.app import AUDIT, Relay247Typer, cli
from app.cli.common import check_schema, database_url, echo_err
from app.core.database import Database
from app.core.errors import DomainError
from app.core.settings import audit_settings, database_settings
from app.models import Country
from app.reports import commands, periods, signing, worker
from app.reports.schemas import NETWORK, ReportKind

report_cli = Relay247Typer(
    help="Cyber analytical reports: verify one offline, generate one, make the periodic ones.",
    no_args_is_help=True,
)
cli.add_typer(report_cli, name="report", rich_help_panel=AUDIT)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        echo_err(f"relay247: cannot read {path}: {exc.strerror}")
        raise typer.Exit(2) from None


@report_cli.command()
def verify(
    pdf: Annotated[Path, typer.Argument(help="The report's PDF.")],
    csv: Annotated[Path, typer.Argument(help="The report's CSV.")],
    manifest: Annotated[Path, typer.Argument(help="The report's signed manifest (JSON).")],
    key: Annotated[
        list[str],
        typer.Option(
            "--key",
            "--public-key",
            help="The service's public keys: the JSON of GET /v1/audit/public-keys saved to a "
            "file (or inline), or an Ed25519 public key's 32 raw bytes in base64 (or a file "
            "holding that). Repeat for several.",
        ),
    ],
) -> None:
    """Check a report offline, with its three files and the service's public keys only: the
    manifest's Ed25519 signature by one of the keys (valid when the report was generated),
    and the SHA-256 of the PDF and of the CSV it names. Exit 0 when all hold; 1, naming the
    part at fault, when any byte of any file was changed or the key is not one given; 2 for
    a file or key that cannot be read."""
    try:
        keys = parse_public_keys(key)
    except PublicKeyError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(2) from None
    try:
        verified = signing.verify(_read(pdf), _read(csv), _read(manifest), keys)
    except signing.ReportFault as exc:
        echo_err(f"report FAULT: {exc}")
        raise typer.Exit(1) from None
    scope = "the network" if verified.scope == NETWORK else verified.scope
    typer.echo(
        f"report verified: {verified.report_id}, {verified.kind} report of {scope} from "
        f"{verified.period_start} to {verified.period_end}, signed by key {verified.key_id}"
    )


def _keys() -> KeyHolder:
    return KeyHolder(audit_settings().signing_key_path(database_settings()))


async def _generate(url: str, scope: str, start: date, end: date) -> tuple[str, dict[str, bytes]]:
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        async with database.transaction() as session:
            if scope != NETWORK and await session.get(Country, scope) is None:
                raise typer.BadParameter(f"no country {scope} in the network")
            report = await commands.generate(
                session, _keys(), None, scope=scope, kind=ReportKind.ON_DEMAND, start=start,
                end=end,
            )  # fmt: skip
            files = {"pdf": report.pdf, "csv": report.csv, "manifest.json": report.manifest}
    finally:
        await database.dispose()
    return str(report.id), files


@report_cli.command()
def generate(
    scope: Annotated[str, typer.Option(help="`network` or a country code.")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First UTC day.")],
    end: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="The day after the last.")
    ],
    out: Annotated[
        Path, typer.Option(help="Folder to write the PDF, CSV and manifest to.")
    ] = Path(),
) -> None:
    """Generate an on-demand report now, as the service (audited with no actor), store it and
    write its three files to --out."""
    if scope != NETWORK and not (len(scope) == 2 and scope.isalpha() and scope.isupper()):
        echo_err("relay247: --scope is `network` or a country code (DE)")
        raise typer.Exit(2)
    try:
        periods.check_on_demand(start.date(), end.date(), datetime.now(UTC).date())
    except DomainError as exc:
        echo_err(f"relay247: {exc.detail}")
        raise typer.Exit(2) from None
    # Before the report is made: a folder that cannot be made would lose its files.
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        echo_err(f"relay247: cannot write the report's files to {out}: {exc.strerror}")
        raise typer.Exit(2) from None
    url = database_url()
    check_schema(url)
    try:
        report_id, files = asyncio.run(_generate(url, scope, start.date(), end.date()))
    except SigningKeyError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from None
    for suffix, data in files.items():
        (out / f"relay247-report-{scope}-{start.date().isoformat()}.{suffix}").write_bytes(data)
    typer.echo(f"report {report_id} written to {out}")


async def _make_due(url: str) -> int:
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        return await worker.make_due(database, _keys())
    finally:
        await database.dispose()


@report_cli.command("make-due")
def make_due() -> None:
    """Make now the weekly and monthly reports whose period has ended and that do not exist
    yet (what every instance's worker does every RELAY247_REPORTS_INTERVAL)."""
    url = database_url()
    check_schema(url)
    try:
        made = asyncio.run(_make_due(url))
    except worker.ReportsNotMade as exc:
        typer.echo(f"made {exc.made}; {exc.failed} could not be made (see the log)", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"made {made} report{'' if made == 1 else 's'}")
