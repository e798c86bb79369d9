"""The README's examples, run: the Python client of "REST in five calls" against a real server,
and the ETag a reader needs for `If-Match`."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from pathlib import Path

from app.core.settings import Settings
from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed, free_port, running_server
from tests.factories import World
from tests.processes import environment

FIVE_CALLS = Path(__file__).parent.parent / "docs" / "examples" / "five_calls.py"


async def test_the_five_calls_run_as_the_readme_shows_them(
    server: RunningServer, world: World
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FIVE_CALLS),
        env=environment(
            RELAY247_URL=server.http,
            FR_UNIT=world.unit("FR").token,
            DE_DESK=world.desk("DE").token,
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2", "3", "4", "5"]
    assert lines[-1].startswith("5 started: in_progress")


async def test_reading_a_request_gives_the_etag_an_action_takes(
    server: RunningServer, world: World
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        # A dashboard puts it on screen (a new version) before the officer acts on it.
        received = await client.post(
            f"/v1/requests/{request_id}/actions/receive", headers=desk.headers
        )
        assert received.status_code == 200, received.text
        read = await client.get(f"/v1/requests/{request_id}", headers=desk.headers)
        assert read.headers["ETag"] == f'"{read.json()["version"]}"' == '"2"'
        ncb = world("DE", Role.NCB)
        shown_to_ncb = await client.get(f"/v1/requests/{request_id}", headers=ncb.headers)
        assert shown_to_ncb.headers["ETag"] == '"2"'

        acked = await client.post(
            f"/v1/requests/{request_id}/actions/acknowledge",
            headers={**desk.headers, "If-Match": read.headers["ETag"]},
        )
        assert acked.status_code == 200, acked.text
        stale = await client.post(
            f"/v1/requests/{request_id}/actions/start",
            headers={**desk.headers, "If-Match": read.headers["ETag"]},
        )
        assert stale.status_code == 412, stale.text
        current = (await client.get(f"/v1/requests/{request_id}", headers=desk.headers)).headers
        started = await client.post(
            f"/v1/requests/{request_id}/actions/start",
            headers={**desk.headers, "If-Match": current["ETag"]},
        )
        assert started.status_code == 200, started.text


def test_the_readme_shows_the_script_that_runs() -> None:
    """The README's Python excerpt is the tested script's code, but for the elided body."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    excerpt = readme.split("```python\nfrance = httpx.Client", 1)[1].split("```", 1)[0]
    script = {line.strip() for line in FIVE_CALLS.read_text().splitlines()}
    shown = [line.strip() for line in ("france = httpx.Client" + excerpt).splitlines()]
    assert [line for line in shown if line and "..." not in line and line not in script] == []


RECEIVER = FIVE_CALLS.parent / "webhook_receiver.py"


async def test_the_webhook_receiver_of_the_readme_verifies_what_relay247_sends(
    database_url: str, settings: Settings, world: World
) -> None:
    loopback = changed(
        settings,
        outbox={
            "outbound_allow_http": True,
            "outbound_allowed_networks": [ipaddress.ip_network("127.0.0.0/8")],
        },
    )
    port = free_port()
    ncb = world("DE", Role.NCB)
    async with running_server(database_url, loopback) as server, http(server.http) as client:
        made = await client.post(
            "/v1/webhook-endpoints",
            json={"url": f"http://127.0.0.1:{port}/relay247"},
            headers=ncb.headers,
        )
        assert made.status_code == 201, made.text
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(RECEIVER),
            env=environment(RELAY247_WEBHOOK_SECRET=made.json()["secret"], PORT=str(port)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            request = await submit_request(client, world.unit("FR"))
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 30)
        finally:
            process.kill()
            await process.wait()
    assert line.decode().split() == ["request.assigned", request["id"]]


def test_the_readme_shows_the_receiver_that_runs() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    excerpt = readme.split("```python\nwebhook = Webhook(", 1)[1].split("```", 1)[0]
    script = RECEIVER.read_text()
    assert "webhook = Webhook(" + excerpt in script
