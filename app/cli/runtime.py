"""Running the service: serve, migrate, the demo, and the printed authorization and lifecycle
tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from app.cli import demo
from app.cli.app import REFERENCE, RUN, TRY, cli
from app.cli.common import (
    Host,
    Port,
    check_schema,
    database_url,
    echo_err,
    ensure_port_free,
    in_transaction,
)
from app.core.database.migrate import upgrade_to_head
from app.core.serving import uvicorn_options
from app.core.settings import api_settings, database_settings, log_settings, realtime_settings
from app.identity import policy
from app.requests import lifecycle


def _serve(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **uvicorn_options(api=api_settings(), realtime=realtime_settings(), logs=log_settings()),
    )


@cli.command(rich_help_panel=RUN)
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8247,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the service (refuses to start on an out-of-date schema)."""
    ensure_port_free(host, port, "serve")
    url = database_url()
    check_schema(url)
    _serve(host, port, workers)


@cli.command(rich_help_panel=RUN)
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""
    upgrade_to_head(database_url())
    typer.echo("relay247: schema is up to date")


def _credentials_file() -> Path:
    return database_settings().data_dir / "demo-credentials.json"


def _seed(url: str) -> dict[str, Any]:
    """Seed the demo world, or read back the credentials saved when it was seeded."""
    credentials = in_transaction(url, demo.seed_demo)
    path = _credentials_file()
    if credentials is None:
        if not path.is_file():
            echo_err(
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


@cli.command("seed-demo", rich_help_panel=TRY)
def seed_demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create the demo countries, agencies and principals; print their credentials."""
    credentials = _seed(database_url())
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
            f"  Dashboard: {base_url}/web/  (sign in with a token below, or a link at the end)",
            f"  API docs:  {base_url}/docs",
            f"  WebSocket: {ws_url}",
            "",
        ]
    lines.append(f"{'country':8} {'role':17} token")
    for code, country in credentials["countries"].items():
        lines.append(f"{code:8} {'unit':17} {country['unit']['token']}")
        lines.append(f"{code:8} {'ncb':17} {country['ncb']['token']}")
        for cp in country["contact_points"]:
            lines.append(f"{code:8} {'contact_point':17} {cp['token']}")
        if "national_auditor" in country:  # absent from a demo seeded by an older version
            lines.append(f"{code:8} {'national_auditor':17} {country['national_auditor']['token']}")
    lines.append(f"{'*':8} {'gs':17} {credentials['global_desk']['token']}")
    lines.append(f"{'*':8} {'auditor':17} {credentials['auditor']['token']}")
    partner = credentials.get("partner")  # absent from a demo seeded by an older version
    if partner:
        lines.append(f"{'US':8} {'partner':17} {partner['token']}")
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
            "",
            "Open the dashboard signed in (the token rides in the link's #fragment, which no "
            "server sees):",
            f"  Germany's duty officer: {_sign_in_link(base_url, de['contact_points'][0])}",
            f"  Germany's NCB:          {_sign_in_link(base_url, de['ncb'])}",
            f"  France's unit:          {_sign_in_link(base_url, fr['unit'])}",
            f"  the global desk:        {_sign_in_link(base_url, credentials['global_desk'])}",
            f"  the network's auditor:  {_sign_in_link(base_url, credentials['auditor'])}",
        ]
        if partner:
            lines += [
                "",
                "A private partner's TAXII 2.1 feed (collections it may write to):",
                f"  curl -s {base_url}/taxii2/api/collections/ "
                "-H 'Accept: application/taxii+json;version=2.1' \\",
                f"    -H 'Authorization: Bearer {partner['token']}'",
                f"  its submissions page: {_sign_in_link(base_url, partner)}",
            ]
    typer.echo("\n".join(lines))


def _sign_in_link(base_url: str, principal: dict[str, Any]) -> str:
    return f"{base_url}/web/sign-in#token={principal['token']}"


@cli.command("demo", rich_help_panel=TRY)
def demo_command(host: Host = "127.0.0.1", port: Port = 8247) -> None:
    """Migrate, seed the demo world if absent, print its credentials, and serve."""
    ensure_port_free(host, port, "demo")
    url = database_url()
    upgrade_to_head(url)
    credentials = _seed(url)
    _print_demo(credentials, base_url=f"http://{host}:{port}")
    sys.stdout.flush()
    _serve(host, port, workers=1)


@cli.command("policy", rich_help_panel=REFERENCE)
def print_policy() -> None:
    """Print the authorization model as a Markdown table: who may do what to which object."""
    typer.echo(policy.render_document(), nl=False)


@cli.command("lifecycle", rich_help_panel=REFERENCE)
def print_lifecycle() -> None:
    """Print the request state machine as a Markdown table.

    Which side may take which action in which state, and the state it leads to."""
    typer.echo(lifecycle.render_table(), nl=False)
