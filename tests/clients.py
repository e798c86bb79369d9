"""Small real clients for tests: HTTP via httpx, WebSocket via the websockets library."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.factories import Party, request_body

# The tests speak plain HTTP on loopback; a client still builds a TLS context, and loading the
# CA bundle for each costs ~30 ms of CPU. One context, made once, serves them all.
LOOPBACK_TLS = ssl.create_default_context()

# How long a frame already committed may take to reach a client: a silence is asserted for
# this long. Measured on the 2-core machine while other test runs loaded it (load average
# 10): submit-to-push p99 0.13 s, a driven deadline's firing to its push p99 0.18 s; with
# eight writers hammering two servers besides, p99 0.58 to 0.70 s, and the server's own
# commit-to-send histogram put 97% under 0.5 s.
DELIVERY_BOUND = 0.5


# A guard against a hang, not a timing: on a loaded two-core machine a full run has shown
# stalls of about 10 s (fixture setups of 9.8 and 10.2 s), which a 10 s timeout turned into a
# ReadTimeout of a test that passes alone in under a second. The same for a socket's opening
# handshake (the websockets library waits 10 s by default).
_TIMEOUT_S = 30


def http(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=_TIMEOUT_S, verify=LOOPBACK_TLS)


async def submit_request(
    client: httpx.AsyncClient, sender: Party, target: str = "DE", **overrides: Any
) -> dict[str, Any]:
    """POST a valid request from ``sender`` and return the created request."""
    response = await client.post(
        "/v1/requests", json=request_body(target, **overrides), headers=sender.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class Dashboard:
    """A contact point's (or a unit's) live connection."""

    def __init__(self, connection: ClientConnection, welcome: dict[str, Any]) -> None:
        self.connection = connection
        self.welcome = welcome
        self.heads: dict[str, int] = welcome["heads"]
        self._early: list[dict[str, Any]] = []  # frames read while waiting for `resumed`

    @classmethod
    async def open(
        cls,
        ws_url: str,
        party: Party,
        *,
        via_frame: bool = False,
        resume: dict[str, int] | None = None,
    ) -> Dashboard:
        """Connect, authenticate and send the first frame, `resume`. Without ``resume``, the
        cursors are empty (live from the welcome's heads) and the dashboard is returned once
        the server has said `resumed`; with it, the caller reads the replay itself."""
        if via_frame:
            connection = await connect(ws_url, open_timeout=_TIMEOUT_S)
            await connection.send(json.dumps({"type": "auth", "token": party.token}))
        else:
            connection = await connect(
                ws_url, additional_headers=party.headers, open_timeout=_TIMEOUT_S
            )
        # Sent before the welcome is read: the protocol allows it, and it is what a client
        # that wants no gap does.
        await connection.send(json.dumps({"type": "resume", "cursors": resume or {}}))
        welcome = json.loads(await asyncio.wait_for(connection.recv(), 5))
        assert welcome["type"] == "welcome", welcome
        dashboard = cls(connection, welcome)
        if resume is None:
            while (frame := await dashboard._recv(5))["type"] != "resumed":
                dashboard._early.append(frame)
        return dashboard

    async def _recv(self, wait: float) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.connection.recv(), wait))
        return frame

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    async def receive(self, wait: float = 5) -> dict[str, Any]:
        if self._early:
            return self._early.pop(0)
        return await self._recv(wait)

    async def receive_event(self, event: str, wait: float = 5) -> dict[str, Any]:
        """The next frame, which must be the given event."""
        frame = await self.receive(wait)
        assert frame["type"] == "event", frame
        assert frame["event"] == event, frame
        return frame

    async def assert_silent(self, seconds: float = DELIVERY_BOUND) -> None:
        """No frame comes for ``seconds``: nothing committed for this client before the call
        is still on its way. That nothing more will be committed, a test shows by the
        database's state (no pending deadline, say)."""
        if self._early:
            raise AssertionError(f"expected no frame, got {self._early[0]}")
        try:
            frame = await asyncio.wait_for(self.connection.recv(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected no frame, got {frame}")

    async def close(self) -> None:
        await self.connection.close()


async def close_of(
    ws_url: str, *, headers: dict[str, str] | None = None, frame: str | None = None
) -> tuple[int, str]:
    """Connect, authenticate with a header or a first frame, and return the close frame the
    server sent (a connection dropped without one fails the test)."""
    async with connect(
        ws_url, additional_headers=headers or {}, open_timeout=_TIMEOUT_S
    ) as connection:
        if frame is not None:
            await connection.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None, "closed without a close frame (1006)"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def unread_get(
    http_base: str, path: str, party: Party
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A GET whose client reads the head and a few bytes of the body, then nothing more: a
    download or export its client stopped taking."""
    client = socket.socket()
    # A small receive window: the server's writes back up after a few kilobytes.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.setblocking(False)
    port = int(http_base.rsplit(":", 1)[1])
    await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", port))
    # limit: the stream reader stops taking from the socket past twice this much unread.
    reader, writer = await asyncio.open_connection(sock=client, limit=4096)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {party.token}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert await asyncio.wait_for(reader.read(100), 10)
    return reader, writer
