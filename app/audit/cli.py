"""`relay247 audit verify`: checks the live audit table's hash chain and the signed checkpoints
(in the table, and in a file kept outside it), or an export offline; `relay247 audit export`
writes one; `relay247 audit checkpoint` signs one now; `relay247 audit rotate-key` starts a
new signing key."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from sqlalchemy.exc import SQLAlchemyError

from app.audit import checkpoints as checkpoint_service
from app.audit import export as export_service
from app.audit import keys as key_service
from app.audit.chain import utc_timestamp
from app.audit.export_verify import ExportReport, verify_export
from app.audit.keys import PublicKeyError, parse_public_keys
from app.audit.query import AuditFilter
from app.audit.verify import (
    CheckpointReport,
    DatabaseReport,
    verify_checkpoint_lines,
    verify_database,
)
from app.cli.app import audit_cli
from app.cli.common import check_schema, database_url, echo_err
from app.core.database import Database
from app.core.database.urls import asyncpg_dsn
from app.core.settings import audit_settings, database_settings

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


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as file:
        yield from file


async def _verify(
    url: str, stack: ExitStack, checkpoint_file: Path | None
) -> tuple[DatabaseReport, CheckpointReport | None]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        report = await verify_database(connection, progress=_Progress(stack))
        external = None
        if checkpoint_file is not None:
            external = await verify_checkpoint_lines(
                connection, _lines(checkpoint_file), name=str(checkpoint_file)
            )
        return report, external
    finally:
        await connection.close()


def _print_checkpoints(report: CheckpointReport, source: str) -> None:
    if report.fault is not None:
        typer.echo(f"checkpoint FAULT at {report.fault}")
        typer.echo(f"{report.checked} checkpoints before it verified")
    elif report.last is not None:
        typer.echo(
            f"{source}: {report.checked} verified, the last at position {report.last.position} "
            f"signed {utc_timestamp(report.last.signed_at)} by key {report.last.key_id}"
        )
    else:
        typer.echo(f"{source}: none")


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
    _print_checkpoints(report.checkpoints, "checkpoints in the database")
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


class _FileLines:
    """A file's lines as text, counting the bytes read (for the progress bar)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.read = 0

    def __iter__(self) -> Iterator[str]:
        with self.path.open("rb") as file:
            for line in file:
                self.read += len(line)
                yield line.decode("utf-8", errors="replace")


def _verify_file(
    path: Path, public_keys: list[str], stack: ExitStack, *, accept_unsigned: bool
) -> ExportReport:
    try:
        keys = parse_public_keys(public_keys)
    except (PublicKeyError, OSError) as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(2) from exc
    lines = _FileLines(path)
    bar = _Progress(stack)
    report = verify_export(
        lines,
        keys,
        accept_unsigned=accept_unsigned,
        progress=lambda _: bar(lines.read, lines.size),
    )
    bar(lines.read, lines.size)
    return report


def _print_export(report: ExportReport, path: Path) -> None:
    if report.fault is not None:
        typer.echo(f"export FAULT at {report.fault}")
        typer.echo(
            f"{report.entries} entries, {report.links} links and {report.checkpoints} "
            "checkpoints read before it"
        )
        return
    if report.covered_by is None:
        typer.echo(f"export verified: {path} holds no entry (filters {report.filters})")
    else:
        checkpoint = report.covered_by
        typer.echo(
            f"export verified: {report.entries} entries and {report.links} links, positions "
            f"{report.first_position} to {report.last_position}, last hash {report.last_hash}"
        )
        typer.echo(
            f"{report.checkpoints} checkpoints hold, the last at position {checkpoint.position} "
            f"signed {utc_timestamp(checkpoint.signed_at)} by key {checkpoint.key_id}"
        )
    typer.echo(f"filters: {report.filters}")
    if report.signed_at is not None:
        typer.echo(
            f"header (filters, range, counts) signed {utc_timestamp(report.signed_at)} by key "
            f"{report.key_id}"
        )
    else:
        typer.echo(
            "warning: a version 1 export, checked only for what it can prove: its entries are "
            "the chain's, but its header and end line are not signed, so neither its filters "
            "nor that no entry was cut from its start or end or replaced by a link is proven"
        )


@audit_cli.command()
def verify(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="An export (relay247 audit export, GET /v1/audit/export) to check offline, "
            "with --public-key.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            "--public-key",
            help="A key the export's checkpoints may be signed with (repeatable): base64 of "
            "its 32 raw bytes, a file holding that, or the JSON of GET /v1/audit/public-keys.",
        ),
    ] = None,
    db: Annotated[
        bool, typer.Option("--db", help="Verify the live audit table of DATABASE_URL.")
    ] = False,
    accept_unsigned_v1: Annotated[
        bool,
        typer.Option(
            "--accept-unsigned-v1",
            help="Check a version 1 export (written before exports were signed) for what it "
            "can prove instead of refusing it: its entries, not its filters or its range.",
        ),
    ] = False,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            help="Also check these checkpoints, kept outside the database (one JSON line "
            "each, as the service appends them), against the live chain; implies --db.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
) -> None:
    """Verify the audit trail: the live table (--db), or an export FILE offline.

    With --db, recompute every sealed entry's hash in chain order and report the first bad entry
    and why; then check every signed checkpoint (in the table, and in --checkpoints FILE) against
    the published keys and the chain, naming the first bad one. Exit 1 on any fault, 0 when
    everything holds.

    With FILE and --public-key, check an export offline instead, no database: its header's
    signature (its filters, range and counts), every entry's hash, the links, the positions,
    the checkpoints' signatures and hashes, a checkpoint covering the last entry, and its end
    line. The keys are GET /v1/audit/public-keys (the audit page's "Download the signing
    keys"), saved to a file."""
    if file is not None:
        if db or checkpoints is not None:
            echo_err("relay247: verify either an export FILE or the database (--db), not both")
            raise typer.Exit(2)
        if not public_key:
            echo_err("relay247: give the key its checkpoints are signed with: --public-key")
            raise typer.Exit(2)
        with ExitStack() as stack:
            exported = _verify_file(file, public_key, stack, accept_unsigned=accept_unsigned_v1)
        _print_export(exported, file)
        if exported.fault is not None:
            raise typer.Exit(1)
        return
    if not db and checkpoints is None:
        echo_err("relay247: say what to verify: --db for the live audit table")
        raise typer.Exit(2)
    url = database_url()
    check_schema(url)
    with ExitStack() as stack:
        report, external = asyncio.run(_verify(url, stack, checkpoints))
    _print(report)
    if external is not None:
        _print_checkpoints(external, f"checkpoints in {checkpoints}")
    faults = [report.fault, report.checkpoints.fault, external.fault if external else None]
    if any(fault is not None for fault in faults):
        raise typer.Exit(1)


def _paths() -> tuple[Path, Path]:
    audit, database = audit_settings(), database_settings()
    return audit.signing_key_path(database), audit.checkpoint_path(database)


async def _checkpoint(url: str, key_file: Path) -> checkpoint_service.Checkpoint | None:
    keys = key_service.KeyHolder(key_file)
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        async with database.engine.begin() as connection:
            return await checkpoint_service.take(connection, keys, only_if_moved=False, wait=True)
    finally:
        await database.dispose()


@audit_cli.command()
def checkpoint() -> None:
    """Sign a checkpoint of the chain's head now.

    With the key of RELAY247_AUDIT_SIGNING_KEY_FILE: stored in the database, appended to
    RELAY247_AUDIT_CHECKPOINT_FILE and printed (one JSON line) for you to keep elsewhere.
    The command seals nothing itself: the head is the last entry an instance sealed."""
    url = database_url()
    check_schema(url)
    key_file, checkpoint_file = _paths()
    try:
        signed = asyncio.run(_checkpoint(url, key_file))
    except key_service.SigningKeyError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc
    if signed is None:
        echo_err("relay247: no entry is sealed yet: nothing to sign")
        raise typer.Exit(1)
    checkpoint_service.append_line(checkpoint_file, signed)
    typer.echo(signed.line())


async def _rotate(url: str, key_file: Path) -> key_service.Rotation:
    database = Database(url, pool_size=1, max_overflow=0)
    try:
        return await key_service.rotate_key(database, key_file)
    finally:
        await database.dispose()


@audit_cli.command("rotate-key")
def rotate_key() -> None:
    """Start a new checkpoint signing key, retiring the others.

    Written to RELAY247_AUDIT_SIGNING_KEY_FILE in place
    of the old one, published valid from now, every other key retired now. Checkpoints signed
    before stay verifiable under their key. Instances reading that file switch at their next
    checkpoint; give instances elsewhere the new file."""
    url = database_url()
    check_schema(url)
    key_file, _ = _paths()
    rotation = asyncio.run(_rotate(url, key_file))
    typer.echo(f"new signing key {rotation.new_key.key_id} in {key_file}")
    for key_id in rotation.retired:
        typer.echo(f"retired key {key_id}")


def _filters(
    since: str | None,
    until: str | None,
    country: str | None,
    agency_id: str | None,
    principal_id: str | None,
    request_id: str | None,
    action: str | None,
) -> AuditFilter:
    """The filters, checked as the endpoint checks its parameters (the same types)."""
    from pydantic import TypeAdapter, ValidationError

    from app.core.primitives import CountryCode, Instant, Text

    def parse(name: str, adapter: TypeAdapter[Any], value: str | None) -> Any:
        if value is None:
            return None
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            echo_err(f"relay247: --{name.replace('_', '-')}: {message}")
            raise typer.Exit(2) from None

    instant: TypeAdapter[Any] = TypeAdapter(Instant)
    ident: TypeAdapter[Any] = TypeAdapter(uuid.UUID)
    return AuditFilter(
        since=parse("since", instant, since),
        until=parse("until", instant, until),
        country=parse("country", TypeAdapter(CountryCode), country),
        agency_id=parse("agency_id", ident, agency_id),
        principal_id=parse("principal_id", ident, principal_id),
        request_id=parse("request_id", ident, request_id),
        action=parse(
            "action", TypeAdapter(Annotated[str, Text(min_length=1, max_length=64)]), action
        ),
    )


async def _export(
    url: str, filters: AuditFilter, fmt: export_service.ExportFormat, output: Any
) -> None:
    key_file, checkpoint_file = _paths()
    database = Database(url, pool_size=2, max_overflow=0)
    try:
        await export_service.record_export(database, None, filters, fmt)
        keys = key_service.KeyHolder(key_file)
        await export_service.ensure_signed(
            database, None, filters, keys=keys, checkpoint_file=checkpoint_file
        )
        signer = await export_service.export_signer(database, keys)
        async for chunk in export_service.export_lines(database, None, filters, fmt, signer):
            output.write(chunk)
        output.flush()
    finally:
        await database.dispose()


@audit_cli.command("export")
def export(
    export_format: Annotated[
        export_service.ExportFormat, typer.Option("--format", help="ndjson or csv")
    ] = export_service.ExportFormat.NDJSON,
    since: Annotated[
        str | None, typer.Option(help="Entries that occurred at or after (RFC 3339, offset)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Entries that occurred before")] = None,
    country: Annotated[str | None, typer.Option(help="Entries concerning this country")] = None,
    agency_id: Annotated[str | None, typer.Option(help="Done by this agency's principals")] = None,
    principal_id: Annotated[str | None, typer.Option(help="Done by this principal")] = None,
    request_id: Annotated[
        str | None, typer.Option(help="About this request, its messages and files")
    ] = None,
    action: Annotated[str | None, typer.Option(help="e.g. request.read")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The file to write (default: stdout)")
    ] = None,
) -> None:
    """Export the sealed audit entries matching the filters, with what proves them.

    Network-wide, with the links and signed checkpoints that prove them (the format of GET
    /v1/audit/export): check it with
    `relay247 audit verify FILE --public-key KEY`. Signs a checkpoint first if the last entry
    has none yet (with RELAY247_AUDIT_SIGNING_KEY_FILE). The export is audited."""
    filters = _filters(since, until, country, agency_id, principal_id, request_id, action)
    url = database_url()
    check_schema(url)
    try:
        if output is None:
            asyncio.run(_export(url, filters, export_format, sys.stdout.buffer))
        else:
            with output.open("wb") as file:
                asyncio.run(_export(url, filters, export_format, file))
    except key_service.SigningKeyError as exc:
        echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc
    except (OSError, asyncpg.PostgresError, SQLAlchemyError) as exc:
        # Without the message: it may quote what was being read.
        echo_err(
            f"relay247: the export failed ({type(exc).__name__}): anything written "
            "lacks its end line, and the verifier reports it cut short"
        )
        raise typer.Exit(1) from exc
