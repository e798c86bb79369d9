"""Administering the network from the shell: countries, agencies, tokens, principals, admin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from app.cli.app import admin_cli, directory_cli, principals_cli, tokens_cli
from app.cli.common import database_url, echo_err, in_transaction
from app.directory import admin, agencies, countries, principals
from app.directory.people_schemas import MAX_OVERLAP_SECONDS
from app.identity import tokens
from app.models.enums import AgencyKind, Role


@directory_cli.command("add-country")
def add_country(
    code: Annotated[str, typer.Argument(help="ISO 3166-1 alpha-2")],
    name: Annotated[str, typer.Argument()],
) -> None:
    """Add a country to the network."""
    if len(code) != 2 or not code.isalpha():
        echo_err("relay247: a country code is two letters (ISO 3166-1 alpha-2)")
        raise typer.Exit(2)
    in_transaction(database_url(), lambda s: countries.ensure_country(s, code.upper(), name))
    typer.echo(f"country {code.upper()} ({name}) is in the network")


@directory_cli.command("add-agency")
def add_agency(
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2")],
    kind: Annotated[AgencyKind, typer.Option()],
    name: Annotated[str, typer.Option()],
) -> None:
    """Add an agency of a country; prints its id."""
    agency = in_transaction(
        database_url(),
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
        float | None,
        # Ten years at most: an expiry is a plan, and a rotation adds its lifetime to now.
        typer.Option(min=0.001, max=87_600, help="The token stops working after this."),
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

    typer.echo(in_transaction(database_url(), work))


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
    in_transaction(database_url(), lambda s: tokens.revoke_token(s, prefix=handle))
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
    """Replace a token with a new one, and print it (shown only now).

    Same principal, label and lifetime. The old one works for --overlap-seconds more."""
    handle = _prefix(prefix)
    issued = in_transaction(
        database_url(),
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
    """List tokens (never their secrets), by country, agency and principal.

    Last use is written every RELAY247_TOKEN_USAGE_FLUSH_INTERVAL, so it is accurate to that."""
    rows = in_transaction(
        database_url(),
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
    in_transaction(
        database_url(),
        lambda s: principals.set_disabled(s, None, principal_id, disabled=True),
    )
    typer.echo(f"principal {principal_id} is disabled")


@principals_cli.command("enable")
def enable_principal(principal_id: PrincipalArgument) -> None:
    """Enable a principal: its tokens that are neither revoked nor expired work again."""
    in_transaction(
        database_url(),
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
    """Make the first admin of an empty network and print its token (shown only now).

    Adds the country and the General Secretariat (an agency of kind gs) if absent, then an
    admin principal in it. Refused once an enabled admin exists: make more with the API, or
    `relay247 tokens create --role admin`. The admin then adds countries, agencies,
    principals and their tokens over the API (/docs)."""
    code = country.upper()
    if len(code) != 2 or not code.isalpha():
        echo_err("relay247: a country code is two letters (ISO 3166-1 alpha-2)")
        raise typer.Exit(2)
    token = in_transaction(
        database_url(),
        lambda s: admin.bootstrap(
            s, country=code, country_name=country_name, agency_name=agency, name=name
        ),
    )
    typer.echo(token)
