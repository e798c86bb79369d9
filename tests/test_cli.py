"""The `relay247` command as an operator uses it."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import typer
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.cli import cli
from app.core.database.urls import asyncpg_dsn, with_database
from app.requests import lifecycle
from tests.cli_runner import invoke
from tests.conftest import TEST_DATABASE, free_port
from tests.factories import World
from tests.processes import environment, run, serving


@pytest.mark.slow
async def test_serve_without_database_url_runs_the_embedded_postgres(tmp_path: Path) -> None:
    env = environment(DATABASE_URL=None, RELAY247_DATA_DIR=str(tmp_path / "data"))
    code, _, stderr = await run("migrate", env=env)
    assert code == 0, stderr
    async with serving(free_port(), env) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/readyz")).json()["status"] == "ok"
    assert (tmp_path / "data" / "pg" / "PG_VERSION").is_file()
    # Stopped with SIGTERM, serve stopped the embedded server it had started.
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists()
    # The data folder is reused on the next start: already migrated, nothing to do.
    code, _, stderr = await run("migrate", env=env)
    assert code == 0, stderr


async def test_serve_refuses_an_out_of_date_schema(server_url: str) -> None:
    empty = f"{TEST_DATABASE}_empty"
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{empty}"')
    finally:
        await connection.close()
    env = environment(DATABASE_URL=with_database(server_url, empty))
    code, _, stderr = await run("serve", "--port", str(free_port()), env=env, wait=30)
    assert code == 1
    assert "run `relay247 migrate`" in stderr


@pytest.mark.parametrize(
    ("database", "told"),
    [
        ("postgresql://someone:hunter2@127.0.0.1:1/none", "cannot be reached"),
        ("{server}/relay247_no_such_database", "does not exist"),
    ],
)
async def test_a_database_that_cannot_be_used_is_a_message_not_a_traceback(
    server_url: str, database: str, told: str
) -> None:
    url = database.format(server=server_url.rsplit("/", 1)[0])
    code, out, err = await invoke("report", "make-due", env=environment(DATABASE_URL=url))
    assert code == 2, out + err
    assert told in err
    assert "Traceback" not in out + err
    assert "hunter2" not in out + err


async def test_seed_demo_prints_working_credentials_once_and_again_from_the_data_dir(
    database_url: str, tmp_path: Path
) -> None:
    env = environment(DATABASE_URL=database_url, RELAY247_DATA_DIR=str(tmp_path))
    code, stdout, stderr = await invoke("seed-demo", "--json", env=env)
    assert code == 0, stderr
    credentials = json.loads(stdout)
    assert set(credentials["countries"]) == {"FR", "DE", "BR", "JP", "NG", "US"}
    for country in credentials["countries"].values():
        assert {"unit", "ncb", "contact_points", "national_auditor"} <= set(country)
        assert len(country["contact_points"]) == 2
    assert credentials["global_desk"]["token"].startswith("r247_")
    assert credentials["auditor"]["token"].startswith("r247_")
    assert (tmp_path / "demo-credentials.json").stat().st_mode & 0o077 == 0

    code, again, _ = await invoke("seed-demo", "--json", env=env)
    assert code == 0
    assert json.loads(again) == credentials

    async with serving(free_port(), env) as base, httpx.AsyncClient(base_url=base) as client:
        token = credentials["countries"]["FR"]["unit"]["token"]
        response = await client.post(
            "/v1/requests",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "type": "emergency_disclosure",
                "priority": "emergency",
                "target_country": "US",
                "subject": "Threat to life",
                "details": "Subscriber behind an account announcing an attack",
                "legal_basis": "Second Additional Protocol Art. 9",
                "handling_code": "RED",
            },
        )
        assert response.status_code == 201, response.text

        # The United States' auditor sees the request's entries; Brazil's sees none of them.
        async def submissions_seen_by(code: str) -> int:
            auditor = credentials["countries"][code]["national_auditor"]["token"]
            response = await client.get(
                "/v1/audit/entries",
                params={"action": "request.submitted"},
                headers={"Authorization": f"Bearer {auditor}"},
            )
            assert response.status_code == 200, response.text
            return len(response.json()["items"])

        # Filtered: the seeding's own entries about a country fill more than a first page.
        assert await submissions_seen_by("US") == 1
        assert await submissions_seen_by("BR") == 0

        # The partner's feed writes to its own inbox over TAXII, and reads nothing else.
        collections = await client.get(
            "/taxii2/api/collections/",
            headers={
                "Authorization": f"Bearer {credentials['partner']['token']}",
                "Accept": "application/taxii+json;version=2.1",
            },
        )
        assert collections.status_code == 200, collections.text
        [inbox] = collections.json()["collections"]
        assert inbox["can_write"] is True


async def test_tokens_create_makes_a_working_token(database_url: str) -> None:
    env = environment(DATABASE_URL=database_url)
    code, _, stderr = await invoke("directory", "add-country", "DE", "Germany", env=env)
    assert code == 0, stderr
    code, agency_id, stderr = await invoke(
        "directory",
        "add-agency",
        "--country",
        "DE",
        "--kind",
        "ncb",
        "--name",
        "NCB Wiesbaden",
        env=env,
    )
    assert code == 0, stderr
    code, _, stderr = await invoke(
        "tokens",
        "create",
        "--agency-id",
        agency_id.strip(),
        "--role",
        "unit",
        "--name",
        "x",
        env=env,
    )
    assert code == 1
    assert "role unit belongs to an agency of kind unit" in stderr
    code, token, stderr = await invoke(
        "tokens",
        "create",
        "--agency-id",
        agency_id.strip(),
        "--role",
        "ncb",
        "--name",
        "duty",
        env=env,
    )
    assert code == 0, stderr
    async with serving(free_port(), env) as base, httpx.AsyncClient(base_url=base) as client:
        response = await client.get(
            "/v1/requests", headers={"Authorization": f"Bearer {token.strip()}"}
        )
    assert response.status_code == 200


async def test_a_token_put_in_a_url_is_refused_and_not_logged(
    world: World, database_url: str, tmp_path: Path
) -> None:
    env = environment(DATABASE_URL=database_url)
    token = world.desk("DE").token
    secret = token.split("_", 2)[2]
    log = tmp_path / "server.log"
    async with serving(free_port(), env, log=log) as base:
        async with connect(base.replace("http", "ws") + f"/v1/ws?token={token}") as connection:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(connection.recv(), 5)
        async with httpx.AsyncClient(base_url=base) as client:
            await client.get(f"/v1/requests?access_token={token}")
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    written = log.read_text()
    assert "/v1/ws?token=" in written, "the handshake is logged, redacted"
    assert secret not in written


async def test_lifecycle_prints_the_state_machine() -> None:
    code, stdout, stderr = await invoke("lifecycle", env=environment())
    assert code == 0, stderr
    assert stdout == lifecycle.render_table()
    assert "| responded | close | requester | closed |" in stdout


def test_the_docs_show_the_state_machine_as_the_code_has_it() -> None:
    document = (Path(__file__).parent.parent / "docs" / "lifecycle.md").read_text()
    assert lifecycle.render_table() in document, "paste `relay247 lifecycle` into docs/lifecycle.md"


# --- help, as a newcomer reads it ----------------------------------------------------------


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group of the tree under ``group``, with the words that reach it."""
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def _help(*words: str) -> str:
    result = CliRunner().invoke(cli, [*words, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_top_level_help_lists_every_command_in_order() -> None:
    shown = _help()
    names = list(getattr(typer.main.get_command(cli), "commands", {}))
    assert len(names) >= 12
    positions = {}
    for name in names:
        match = re.search(rf"^│ {re.escape(name)} +\S", shown, flags=re.MULTILINE)
        assert match, f"`relay247 --help` does not list {name} with a summary"
        positions[name] = match.start()
    assert sorted(names, key=positions.__getitem__)[:3] == ["demo", "seed-demo", "serve"]


def test_every_group_lists_its_commands_and_no_help_shows_bool_or_hard_wraps() -> None:
    for path, command in _commands(typer.main.get_command(cli)):
        shown = _help(*path)
        assert "<bool>" not in shown, f"relay247 {' '.join(path)} --help"
        for name in getattr(command, "commands", {}):
            assert re.search(rf"^│ {re.escape(name)} +\S", shown, flags=re.MULTILINE), (
                f"relay247 {' '.join(path)} --help does not list {name}"
            )
        # Rich keeps a single newline as a line break: a paragraph is one line.
        for paragraph in (command.help or "").split("\n\n"):
            assert "\n" not in paragraph, f"relay247 {' '.join(path)}: {paragraph[:60]!r}"


async def test_version_prints_the_installed_version() -> None:
    code, stdout, stderr = await run("--version", env=environment())
    assert code == 0, stderr
    assert stdout == f"relay247 {version('relay247')}\n"


# --- a second `make run` --------------------------------------------------------------------

_LISTENER = """
import socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
print("listening", flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
async def test_demo_on_a_port_another_program_holds_says_so_before_anything(
    tmp_path: Path,
) -> None:
    port = free_port()
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _LISTENER,
        str(port),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"listening\n"
        env = environment(DATABASE_URL=None, RELAY247_DATA_DIR=str(tmp_path / "data"))
        code, stdout, stderr = await run("demo", "--port", str(port), env=env, wait=30)
    finally:
        holder.kill()
        await holder.communicate()  # closes its pipes too
    assert code == 1
    assert stdout == "", "no credentials nor sign-in links for a demo that cannot serve"
    assert f"port {port} on 127.0.0.1 is taken by another program" in stderr
    assert "make run PORT=" in stderr
    assert not (tmp_path / "data").exists(), "no embedded Postgres was started"


@pytest.mark.slow
async def test_a_second_demo_points_to_the_relay247_already_running(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = environment(DATABASE_URL=database_url, RELAY247_DATA_DIR=str(tmp_path))
    async with serving(port, env):
        code, stdout, stderr = await run("demo", "--port", str(port), env=env, wait=30)
    assert code == 1
    assert stdout == ""
    base = f"http://127.0.0.1:{port}"
    assert f"relay247 is already running on {base}: open {base}/web/" in stderr
    assert not (tmp_path / "demo-credentials.json").exists(), "nothing was seeded"
