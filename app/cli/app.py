"""The command tree of `relay247`: each module of this package adds its commands to it.

Help is written for a person meeting the command for the first time: every command listed with
a one-line summary, in the order one needs them (try it, run it, administer the network, audit
and retention, reference), paragraphs reflowed to the terminal, flags shown as flags."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from app import __version__

HELP = """Real-time request broker of the 24/7 network of cybercrime contact points.

Try it with `relay247 demo` (what `make run` runs): a demo network on the embedded Postgres,
with sign-in links for each role. For a real network: `relay247 migrate`, then `relay247 admin
bootstrap` makes the first admin and prints its token, then `relay247 serve`; everything else
can then be done over the API (/docs) or with the commands below."""

# The panels of `relay247 --help`, and the order of the commands in each.
TRY = "Try it"
RUN = "Run the service"
ADMINISTER = "Administer the network"
AUDIT = "Audit and retention"
REFERENCE = "Reference"
ORDER = [
    "demo",
    "seed-demo",
    "serve",
    "migrate",
    "admin",
    "directory",
    "tokens",
    "principals",
    "contacts",
    "webhooks",
    "audit",
    "purge",
    "analytics",
    "report",
    "policy",
    "lifecycle",
]


def _reflowed(text: str | None) -> str | None:
    """A docstring's paragraphs each on one line: the source wraps them at 100 columns, and
    Rich keeps a single newline as a line break, so wrapped docstrings came out ragged. Rich
    wraps each paragraph to the terminal instead."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _without_bool_metavar(params: list[Any]) -> list[Any]:
    """Flags as flags: Typer shows `<bool>` after an on/off option (even --help), as if it took
    a value. An empty metavar shows nothing; click writes no metavar for a flag anyway."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflowed(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _without_bool_metavar(super().get_params(ctx))


class Group(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflowed(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _without_bool_metavar(super().get_params(ctx))

    def list_commands(self, ctx: Any) -> list[str]:
        """ORDER first; a command it does not name yet still shows, after them."""
        names = super().list_commands(ctx)
        known = [name for name in ORDER if name in names]
        return known + sorted(name for name in names if name not in ORDER)


class Relay247Typer(typer.Typer):
    """A Typer whose commands and groups are the classes above."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=Group, **kwargs)

    def command(  # type: ignore[override]
        self, name: str | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        kwargs.setdefault("cls", Command)
        return super().command(name, **kwargs)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"relay247 {__version__}")
        raise typer.Exit()


cli = Relay247Typer(help=HELP, no_args_is_help=True, add_completion=False)


@cli.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


tokens_cli = Relay247Typer(
    help="Bearer tokens: create, list, rotate, revoke.", no_args_is_help=True
)
directory_cli = Relay247Typer(
    help="Countries and agencies of the network: add-country, add-agency.", no_args_is_help=True
)
principals_cli = Relay247Typer(
    help="Principals (people, desks, systems): disable, enable.", no_args_is_help=True
)
contacts_cli = Relay247Typer(
    help="How people are alerted (e-mail, Web Push, gateways): list, add, verify, resend, remove.",
    no_args_is_help=True,
)
admin_cli = Relay247Typer(
    help="The first administrator of an empty network: bootstrap.", no_args_is_help=True
)
audit_cli = Relay247Typer(
    help="The audit trail: verify its hash chain and signed checkpoints, export it, sign a "
    "checkpoint, rotate the signing key.",
    no_args_is_help=True,
)
cli.add_typer(admin_cli, name="admin", rich_help_panel=ADMINISTER)
cli.add_typer(directory_cli, name="directory", rich_help_panel=ADMINISTER)
cli.add_typer(tokens_cli, name="tokens", rich_help_panel=ADMINISTER)
cli.add_typer(principals_cli, name="principals", rich_help_panel=ADMINISTER)
cli.add_typer(contacts_cli, name="contacts", rich_help_panel=ADMINISTER)
webhooks_cli = Relay247Typer(
    help="Agencies' webhook endpoints: create, list, rotate, enable, disable, delete, recover.",
    no_args_is_help=True,
)
cli.add_typer(webhooks_cli, name="webhooks", rich_help_panel=ADMINISTER)
cli.add_typer(audit_cli, name="audit", rich_help_panel=AUDIT)
