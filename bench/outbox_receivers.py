"""The destinations of the outbox benchmark, in a process of their own so that their CPU is
not the bench client's: an HTTP server taking webhooks, gateway calls and Web Push messages
(decrypting each with the subscription's key, as a push service's client would), an SMTP
server (aiosmtpd) taking e-mail, and a black hole that accepts connections and never answers.

Each arrival is noted with the wall clock: (kind, id, epoch seconds), where id is the
``webhook-id`` or Message-ID (the outbox message's id) or, for a push, the decrypted payload's
request id. ``GET /arrivals`` hands them over; ``python -m bench.outbox_receivers`` prints the
ports as one JSON line once everything listens.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from email.parser import BytesHeaderParser
from typing import Any

import http_ece
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives.asymmetric import ec

from bench.stack import free_port

arrivals: list[tuple[str, str, float]] = []


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class _Mail:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        headers = BytesHeaderParser().parsebytes(content)
        # <outbox message id@domain>
        message_id = str(headers.get("Message-ID", "")).strip().strip("<>").split("@")[0]
        arrivals.append(("email", message_id, time.time()))
        return "250 OK"


def _app(push_key: ec.EllipticCurvePrivateKey, auth: bytes) -> web.Application:
    async def hook(request: web.Request) -> web.Response:
        await request.read()
        kind = request.match_info["kind"]
        arrivals.append((kind, request.headers.get("webhook-id", ""), time.time()))
        return web.Response(status=204)

    async def push(request: web.Request) -> web.Response:
        body = await request.read()
        payload = json.loads(http_ece.decrypt(body, private_key=push_key, auth_secret=auth))
        key = str(payload.get("request_id") or payload.get("withdraw") or "")
        arrivals.append(("web_push", key, time.time()))
        return web.Response(status=201)

    async def listed(request: web.Request) -> web.Response:
        return web.json_response(arrivals)

    async def reset(request: web.Request) -> web.Response:
        arrivals.clear()
        return web.Response(status=204)

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/{kind:webhook|gateway}/{n}", hook)
    app.router.add_post("/push/{n}", push)
    app.router.add_get("/arrivals", listed)
    app.router.add_post("/reset", reset)
    return app


async def _black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read everything, answer nothing, until the sender gives up."""
    while await reader.read(65536):
        pass
    writer.close()


async def main(arguments: argparse.Namespace) -> None:
    push_key = ec.derive_private_key(
        int.from_bytes(_b64(arguments.push_key), "big"), ec.SECP256R1()
    )
    runner = web.AppRunner(_app(push_key, _b64(arguments.push_auth)), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    http_port = runner.addresses[0][1]
    hole = await asyncio.start_server(_black_hole, "127.0.0.1", 0)
    hole_port = hole.sockets[0].getsockname()[1]
    smtp_port = free_port()
    mail = Controller(_Mail(), hostname="127.0.0.1", port=smtp_port)
    mail.start()
    ports: dict[str, Any] = {"http": http_port, "smtp": smtp_port, "black_hole": hole_port}
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        mail.stop()
        hole.close()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--push-key", required=True, help="the subscription's private key")
    parser.add_argument("--push-auth", required=True, help="the subscription's auth secret")
    asyncio.run(main(parser.parse_args()))
