"""The command tree of `relay247`: each module of this package adds its commands to it."""

from __future__ import annotations

import typer

HELP = """The `relay247` command: serve, migrate, demo, seed-demo, and directory administration.

On an empty database, `relay247 migrate` then `relay247 admin bootstrap` make the first
admin and print its token; everything else can then be done over the API."""

cli = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False)
tokens_cli = typer.Typer(help="Bearer tokens.", no_args_is_help=True)
directory_cli = typer.Typer(help="Countries and agencies of the network.", no_args_is_help=True)
principals_cli = typer.Typer(help="Principals: disable, enable.", no_args_is_help=True)
admin_cli = typer.Typer(help="The first administrator.", no_args_is_help=True)
audit_cli = typer.Typer(
    help="The audit trail: verify its hash chain and signed checkpoints, sign one, rotate the key.",
    no_args_is_help=True,
)
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(directory_cli, name="directory")
cli.add_typer(principals_cli, name="principals")
cli.add_typer(admin_cli, name="admin")
cli.add_typer(audit_cli, name="audit")
