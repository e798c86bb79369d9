"""A case system's webhook receiver, for real: an aiohttp server on loopback that verifies
every message it gets as a receiver would, `v1` with the `standardwebhooks` library and
`v1a` (Ed25519) with `cryptography`, and answers what the test tells it to.

It can be stopped and started again on the same port (the receiver down, then back)."""

from __future__ import annotations

import base64
import json
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "thanks"


@dataclass(frozen=True)
class Received:
    id: str
    timestamp: int
    signatures: list[str]
    body: dict[str, Any]
    verified_by: list[str]  # the keys (whsec_ / whpk_) it verifies with
    answered: int


def verifies(key: str, headers: dict[str, str], raw: bytes) -> bool:
    """Whether the message verifies with ``key`` as a receiver checks it: a whsec_ secret with
    the standard's own library, a whpk_ public key with Ed25519 over id.timestamp.body."""
    if key.startswith("whsec_"):
        try:
            Webhook(key).verify(raw, headers)
        except WebhookVerificationError:
            return False
        return True
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.removeprefix("whpk_")))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + raw
    for signature in headers["webhook-signature"].split(" "):
        version, _, value = signature.partition(",")
        if version != "v1a":
            continue
        try:
            public.verify(base64.b64decode(value), signed)
        except InvalidSignature:
            continue
        return True
    return False


class WebhookReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.keys: list[str] = []  # what it verifies with; a message none verifies gets 401
        self.answers: deque[Answer] = deque()  # next answers; then 204
        self.received: list[Received] = []
        self._runner: web.AppRunner | None = None
        self._held: socket.socket | None = None

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        verified = [key for key in self.keys if verifies(key, headers, raw)]
        answer = self.answers.popleft() if self.answers else Answer()
        status = answer.status if verified else 401
        self.received.append(
            Received(
                id=headers["webhook-id"],
                timestamp=int(headers["webhook-timestamp"]),
                signatures=headers["webhook-signature"].split(" "),
                body=json.loads(raw),
                verified_by=verified,
                answered=status,
            )
        )
        return web.Response(status=status, headers=answer.headers, text=answer.body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if self._held is not None:
            self._held.close()
            self._held = None

    async def stop(self) -> None:
        """Down: connections are refused. The port stays bound (not listening) meanwhile, so
        that no other test's server, on this machine, takes it before the receiver is back."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", self.port))
        self._held = held

    async def close(self) -> None:
        await self.stop()
        if self._held is not None:
            self._held.close()
            self._held = None

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.verified_by and 200 <= r.answered < 300]


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.close()
