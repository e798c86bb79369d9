"""How sockets end: a revoked or expired token ends every socket it opened, on every
instance; a graceful shutdown tells each client to reconnect elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.core.database import Database
from app.identity import tokens
from app.models.enums import Role
from tests.cli_runner import invoke
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer, free_port, running_server
from tests.factories import Party, World
from tests.processes import RELAY247, environment


async def read_until_closed(connection: ClientConnection, within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            await connection.recv()


async def closed_with(dashboard: Dashboard, within: float) -> int | None:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        await read_until_closed(dashboard.connection, within)
    return closed.value.rcvd.code if closed.value.rcvd else None


@pytest.mark.slow
async def test_a_revoked_token_ends_its_sockets_on_every_instance(
    world: World, database_url: str
) -> None:
    desk = world.desk("DE")
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_server(database_url))
        second = await stack.enter_async_context(running_server(database_url))
        sockets = [await Dashboard.open(s.ws, desk) for s in (first, second, first)]
        colleague = await Dashboard.open(second.ws, world("DE", Role.NCB))
        async with http(first.http) as client:
            request = await submit_request(client, world.unit("FR"))
        for socket in (*sockets, colleague):
            await socket.receive_event("request.assigned")

        code, _, stderr = await invoke(
            "tokens", "revoke", desk.token, env=environment(DATABASE_URL=database_url)
        )
        assert code == 0, stderr
        # An ack sent after the revocation is refused, whichever instance holds the socket. The
        # token check may have closed the socket already (it runs every 2 s, in any phase
        # with the revocation): then the ack cannot even be sent.
        with contextlib.suppress(ConnectionClosed):
            await sockets[1].send({"type": "ack", "request_id": request["id"]})
        codes = await asyncio.gather(*(closed_with(s, within=5) for s in sockets))
        assert codes == [4001, 4001, 4001]
        async with http(second.http) as client:
            assert (
                await client.get(f"/v1/requests/{request['id']}", headers=desk.headers)
            ).status_code == 401
            shown = await client.get(f"/v1/requests/{request['id']}", headers=world.gs.headers)
        assert shown.json()["status"] == "submitted", "the revoked token's ack changed nothing"
        # Other principals of the same desk are untouched.
        await colleague.send({"type": "ping"})
        assert await colleague.receive() == {"type": "pong"}
        await colleague.close()


async def test_an_expired_token_ends_its_socket(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with database.transaction() as session:
        token = await tokens.issue_token(
            session,
            principal_id=world.desk("DE").principal_id,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    party = Party(
        world.desk("DE").principal_id, world.desk("DE").agency_id, "DE", Role.CONTACT_POINT, token
    )
    dashboard = await Dashboard.open(server.ws, party)
    # Its hour passes once the socket is open (its expiry made now, in the database): the
    # token check closes the socket within its interval.
    await db.execute(
        "UPDATE api_tokens SET expires_at = now() WHERE prefix = $1", token.split("_")[1]
    )
    assert await closed_with(dashboard, within=10) == 4001


@pytest.mark.slow
async def test_a_graceful_shutdown_tells_sockets_to_reconnect(
    world: World, database_url: str
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        RELAY247,
        "serve",
        "--port",
        str(port),
        env=environment(DATABASE_URL=database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    async with http(f"http://127.0.0.1:{port}") as client:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.1)
        async with connect(
            f"ws://127.0.0.1:{port}/v1/ws", additional_headers=world.desk("DE").headers
        ) as connection:
            await connection.send(json.dumps({"type": "resume", "cursors": {}}))
            assert json.loads(await connection.recv())["type"] == "welcome"
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                await read_until_closed(connection, within=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012
        # uvicorn re-raises the signal once its graceful shutdown is done.
        assert await asyncio.wait_for(process.wait(), 15) in (0, -signal.SIGTERM)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
