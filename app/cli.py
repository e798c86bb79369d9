"""The `relay247` command: serve, migrate, demo, seed-demo, and directory administration.

On an empty database, `relay247 migrate` then `relay247 admin bootstrap` make the first
admin and print its token; everything else can then be done over the API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn

from app import policy
from app.database import Database
from app.database.embedded import DATABASE_NAME, ensure_database, start_embedded_server
from app.database.migrate import SchemaOutOfDateError, assert_schema_current, upgrade_to_head
from app.errors import DomainError
from app.models.enums import AgencyKind, Role
from app.schemas.directory import MAX_OVERLAP_SECONDS
from app.services import demo
from app.services.directory import admin, agencies, countries, principals, tokens
from app.serving import uvicorn_options
from app.settings import api_settings, database_settings, log_settings, realtime_settings

cli = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
tokens_cli = typer.Typer(help="Bearer tokens.", no_args_is_help=True)
directory_cli = typer.Typer(help="Countries and agencies of the network.", no_args_is_help=True)
principals_cli = typer.Typer(help="Principals: disable, enable.", no_args_is_help=True)
admin_cli = typer.Typer(help="The first administrator.", no_args_is_help=True)
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(directory_cli, name="directory")
cli.add_typer(principals_cli, name="principals")
cli.add_typer(admin_cli, name="admin")

T = TypeVar("T")


def _echo_err(message: str) -> None:
    typer.echo(message, err=True)


def _database_url() -> str:
    """DATABASE_URL, or the embedded Postgres (started or joined) when it is unset."""
    settings = database_settings()
    if settings.url:
        return settings.url
    server_url = start_embedded_server(settings.data_dir)
    # The embedded server is stopped by an atexit hook. uvicorn re-raises the signal that
    # stopped it once it has shut down, and SIGTERM's default action skips atexit: make it
    # an ordinary exit instead.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    url = asyncio.run(ensure_database(server_url, DATABASE_NAME))
    # Uvicorn's worker processes and create_app() find the database the same way.
    os.environ["DATABASE_URL"] = url
    database_settings.cache_clear()
    return url


def _in_transaction(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            await assert_schema_current(database.engine)
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except SchemaOutOfDateError as exc:
        _echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc
    except DomainError as exc:
        _echo_err(f"relay247: {exc.detail}")
        raise typer.Exit(1) from exc


def _check_schema(url: str) -> None:
    async def check() -> None:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            await assert_schema_current(database.engine)
        finally:
            await database.dispose()

    try:
        asyncio.run(check())
    except SchemaOutOfDateError as exc:
        _echo_err(f"relay247: {exc}")
        raise typer.Exit(1) from exc


def _serve(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **uvicorn_options(api=api_settings(), realtime=realtime_settings(), logs=log_settings()),
    )


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port.")]


@cli.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8247,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the service. Refuses to start on an out-of-date schema."""
    url = _database_url()
    _check_schema(url)
    _serve(host, port, workers)


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""
    upgrade_to_head(_database_url())
    typer.echo("relay247: schema is up to date")


def _credentials_file() -> Path:
    return database_settings().data_dir / "demo-credentials.json"


def _seed(url: str) -> dict[str, Any]:
    """Seed the demo world, or read back the credentials saved when it was seeded."""
    credentials = _in_transaction(url, demo.seed_demo)
    path = _credentials_file()
    if credentials is None:
        if not path.is_file():
            _echo_err(
                "relay247: the demo world is already seeded and its tokens were shown once; "
                "create new ones with `relay247 tokens create`"
            )
            raise typer.Exit(1)
        saved: dict[str, Any] = json.loads(path.read_text())
        return saved
    # Demo tokens only, kept so `make run` can show them again; never done for real tokens.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(credentials, indent=2))
    return credentials


@cli.command("seed-demo")
def seed_demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create the demo countries, agencies and principals; print their credentials."""
    credentials = _seed(_database_url())
    if as_json:
        typer.echo(json.dumps(credentials))
    else:
        _print_demo(credentials, base_url=None)


def _print_demo(credentials: dict[str, Any], base_url: str | None) -> None:
    lines = []
    if base_url:
        ws_url = base_url.replace("http", "ws", 1) + "/v1/ws"
        lines += [
            f"relay247 demo on {base_url}",
            f"  API docs:  {base_url}/docs",
            f"  WebSocket: {ws_url}",
            "",
        ]
    lines.append(f"{'country':8} {'role':14} token")
    for code, country in credentials["countries"].items():
        lines.append(f"{code:8} {'unit':14} {country['unit']['token']}")
        lines.append(f"{code:8} {'ncb':14} {country['ncb']['token']}")
        for cp in country["contact_points"]:
            lines.append(f"{code:8} {'contact_point':14} {cp['token']}")
    lines.append(f"{'*':8} {'gs':14} {credentials['global_desk']['token']}")
    lines.append(f"{'*':8} {'auditor':14} {credentials['auditor']['token']}")
    lines.append(f"(also saved in {_credentials_file()})")
    if base_url:
        fr, de = credentials["countries"]["FR"], credentials["countries"]["DE"]
        lines += [
            "",
            "Try it: France asks Germany to preserve data",
            f"  curl -s {base_url}/v1/requests -H 'Authorization: Bearer {fr['unit']['token']}' \\",
            '    -H \'Content-Type: application/json\' -d \'{"type":"preservation",'
            '"priority":"urgent","target_country":"DE","subject":"Preserve mailbox",'
            '"details":"Ransom negotiation mailbox","legal_basis":"Budapest Art. 29",'
            '"handling_code":"AMBER","identifiers":[{"kind":"email","value":"x@example.org"}]}\'',
            f"  and watch Germany's desk with token {de['contact_points'][0]['token']}",
        ]
    typer.echo("\n".join(lines))


@cli.command("demo")
def demo_command(host: Host = "127.0.0.1", port: Port = 8247) -> None:
    """Migrate, seed the demo world if absent, print its credentials, and serve."""
    url = _database_url()
    upgrade_to_head(url)
    credentials = _seed(url)
    _print_demo(credentials, base_url=f"http://{host}:{port}")
    sys.stdout.flush()
    _serve(host, port, workers=1)


@directory_cli.command("add-country")
def add_country(
    code: Annotated[str, typer.Argument(help="ISO 3166-1 alpha-2")],
    name: Annotated[str, typer.Argument()],
) -> None:
    """Add a country to the network."""
    if len(code) != 2 or not code.isalpha():
        _echo_err("relay247: a country code is two letters (ISO 3166-1 alpha-2)")
        raise typer.Exit(2)
    _in_transaction(_database_url(), lambda s: countries.ensure_country(s, code.upper(), name))
    typer.echo(f"country {code.upper()} ({name}) is in the network")


@directory_cli.command("add-agency")
def add_agency(
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2")],
    kind: Annotated[AgencyKind, typer.Option()],
    name: Annotated[str, typer.Option()],
) -> None:
    """Add an agency of a country; prints its id."""
    agency = _in_transaction(
        _database_url(),
        lambda s: agencies.create_agency(s, country=country.upper(), kind=kind, name=name),
    )
    typer.echo(str(agency.id))


@tokens_cli.command("create")
def create_token(
    agency_id: Annotated[uuid.UUID, typer.Option(help="The agency the principal acts for.")],
    role: Annotated[Role, typer.Option()],
    name: Annotated[str, typer.Option(help="Person, desk or system the token is for.")],
    label: Annotated[str, typer.Option(help="A note on the token.")] = "",
    expires_in_hours: Annotated[
        float | None, typer.Option(min=0.001, help="The token stops working after this.")
    ] = None,
) -> None:
    """Create a principal with a role in an agency, and a token for it (shown only now)."""
    expires_at = datetime.now(UTC) + timedelta(hours=expires_in_hours) if expires_in_hours else None

    async def work(session: Any) -> str:
        principal = await principals.create_principal(
            session, agency_id=agency_id, role=role, name=name
        )
        return await tokens.issue_token(
            session, principal_id=principal.id, label=label, expires_at=expires_at
        )

    typer.echo(_in_transaction(_database_url(), work))


def _prefix(token_or_prefix: str) -> str:
    """The prefix, given a prefix or a whole token (r247_<prefix>_<secret>)."""
    parts = token_or_prefix.split("_")
    return parts[1] if len(parts) >= 3 and parts[0] == "r247" else token_or_prefix


PrefixArgument = Annotated[
    str, typer.Argument(help="The token's prefix: r247_<prefix>_..., or the whole token.")
]


@tokens_cli.command("revoke")
def revoke_token(prefix: PrefixArgument) -> None:
    """Revoke a token: refused at once on REST; its open sockets close within seconds."""
    handle = _prefix(prefix)
    _in_transaction(_database_url(), lambda s: tokens.revoke_token(s, prefix=handle))
    typer.echo(f"token {handle} is revoked")


@tokens_cli.command("rotate")
def rotate_token(
    prefix: PrefixArgument,
    overlap_seconds: Annotated[
        int,
        typer.Option(
            min=0,
            max=MAX_OVERLAP_SECONDS,
            help="How long the old token keeps working next to the new one.",
        ),
    ] = 900,
) -> None:
    """Replace a token with a new one (same principal, label and lifetime); prints the new
    token, shown only now. The old one works for --overlap-seconds more."""
    handle = _prefix(prefix)
    issued = _in_transaction(
        _database_url(),
        lambda s: tokens.rotate_token(s, prefix=handle, overlap=timedelta(seconds=overlap_seconds)),
    )
    typer.echo(issued.token)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


@tokens_cli.command("list")
def list_tokens(
    principal: Annotated[uuid.UUID | None, typer.Option(help="Tokens of this principal.")] = None,
    agency: Annotated[uuid.UUID | None, typer.Option(help="Tokens of this agency.")] = None,
    country: Annotated[
        str | None, typer.Option(help="Tokens of this country's agencies (ISO 3166-1).")
    ] = None,
) -> None:
    """List tokens (never their secrets), by country, agency and principal. Last use is
    written every RELAY247_TOKEN_USAGE_FLUSH_INTERVAL, so it is accurate to that."""
    rows = _in_transaction(
        _database_url(),
        lambda s: tokens.find_tokens(
            s,
            principal_id=principal,
            agency_id=agency,
            country=country.upper() if country else None,
        ),
    )
    header = (
        "prefix",
        "state",
        "cc",
        "agency",
        "principal",
        "role",
        "label",
        "last used",
        "expires",
    )
    table = [header] + [
        (
            row.token.prefix,
            row.token.state.value + (" (principal disabled)" if row.principal_disabled else ""),
            row.country,
            row.agency_name,
            row.principal_name,
            row.role.value,
            row.token.label,
            _when(row.token.last_used_at),
            _when(row.token.expires_at),
        )
        for row in rows
    ]
    widths = [min(40, max(len(line[i]) for line in table)) for i in range(len(header))]
    for line in table:
        typer.echo(
            "  ".join(
                cell[:40].ljust(width) for cell, width in zip(line, widths, strict=True)
            ).rstrip()
        )


PrincipalArgument = Annotated[uuid.UUID, typer.Argument(help="The principal's id.")]


@principals_cli.command("disable")
def disable_principal(principal_id: PrincipalArgument) -> None:
    """Disable a principal: all its tokens stop at once, its sockets close within seconds."""
    _in_transaction(
        _database_url(),
        lambda s: principals.set_disabled(s, None, principal_id, disabled=True),
    )
    typer.echo(f"principal {principal_id} is disabled")


@principals_cli.command("enable")
def enable_principal(principal_id: PrincipalArgument) -> None:
    """Enable a principal: its tokens that are neither revoked nor expired work again."""
    _in_transaction(
        _database_url(),
        lambda s: principals.set_disabled(s, None, principal_id, disabled=False),
    )
    typer.echo(f"principal {principal_id} is enabled")


@admin_cli.command("bootstrap")
def bootstrap(
    name: Annotated[str, typer.Option(help="Who the admin is.")] = "Administrator",
    country: Annotated[
        str, typer.Option(help="Where the General Secretariat sits (ISO 3166-1 alpha-2).")
    ] = "FR",
    country_name: Annotated[str, typer.Option(help="That country's name.")] = "France",
    agency: Annotated[
        str, typer.Option(help="The General Secretariat's name.")
    ] = "INTERPOL General Secretariat",
) -> None:
    """Make the first admin on an empty network and print its token (shown only now).

    Adds the country and the General Secretariat (an agency of kind gs) if absent, then an
    admin principal in it. Refused once an enabled admin exists: make more with the API, or
    `relay247 tokens create --role admin`. The admin then adds countries, agencies,
    principals and their tokens over the API (/docs)."""
    code = country.upper()
    if len(code) != 2 or not code.isalpha():
        _echo_err("relay247: a country code is two letters (ISO 3166-1 alpha-2)")
        raise typer.Exit(2)
    token = _in_transaction(
        _database_url(),
        lambda s: admin.bootstrap(
            s, country=code, country_name=country_name, agency_name=agency, name=name
        ),
    )
    typer.echo(token)


@cli.command("policy")
def print_policy() -> None:
    """Print the authorization model (who may do what to which object) as a Markdown table."""
    typer.echo(policy.render_document(), nl=False)


def main() -> None:
    cli()
