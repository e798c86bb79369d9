"""A Web Push service on loopback, as strict as a real one about what it is sent: a real HTTP
server (aiohttp) that, for every push, checks the VAPID authorization (RFC 8292: the JWT's
ES256 signature with the key in ``k``, that key being the service's applicationServerKey,
``aud`` its own origin, ``exp`` in the future and at most 24 h ahead, ``sub`` a mailto: or
https: URI) and the RFC 8030 headers, then decrypts the RFC 8291 payload with the private key
and auth secret of the subscription the test made, as the browser would.

A push it cannot verify or decrypt is answered 400/401/403, as a push service does, and kept
in ``refused`` with the reason: a test asserts it stays empty."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.conftest import free_port

_DAY = 86_400


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class Subscriber:
    """A browser's subscription: its key pair and auth secret stay here (the browser); the
    service is given the endpoint and the public parts (``keys``)."""

    endpoint: str
    token: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def keys(self) -> dict[str, str]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url(point), "auth": b64url(self.auth)}


@dataclass
class Push:
    """One push the receiver accepted, decrypted."""

    token: str
    headers: dict[str, str]
    claims: dict[str, Any]
    payload: dict[str, Any]
    raw: bytes  # the decrypted bytes, for what must not be in them


@dataclass
class PushReceiver:
    application_server_key: str
    port: int = field(default_factory=free_port)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    pushes: list[Push] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # Per subscription token, the status to answer instead of 201 (410: gone).
    answers: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def subscribe(self) -> Subscriber:
        token = secrets.token_urlsafe(16)
        subscriber = Subscriber(
            endpoint=f"{self.origin}/push/{token}",
            token=token,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
        )
        self.subscribers[token] = subscriber
        return subscriber

    def received(self, token: str | None = None) -> list[Push]:
        return [push for push in self.pushes if token is None or push.token == token]

    async def __aenter__(self) -> PushReceiver:
        app = web.Application()
        app.router.add_post("/push/{token}", self._push)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _refuse(self, status: int, reason: str) -> web.Response:
        self.refused.append(reason)
        return web.Response(status=status, text=reason)

    async def _push(self, request: web.Request) -> web.Response:
        subscriber = self.subscribers.get(request.match_info["token"])
        if subscriber is None:
            return self._refuse(404, "no such subscription")
        try:
            claims = self._verified_claims(request.headers.get("Authorization", ""))
        except (ValueError, KeyError, InvalidSignature) as exc:
            return self._refuse(401, f"VAPID: {exc!r}")
        for name in ("TTL", "Urgency", "Topic"):
            if name not in request.headers:
                return self._refuse(400, f"no {name} header")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return self._refuse(400, "Content-Encoding is not aes128gcm")
        body = await request.read()
        try:
            raw = http_ece.decrypt(
                body,
                private_key=subscriber.private_key,
                auth_secret=subscriber.auth,
                version="aes128gcm",
            )
            payload = json.loads(raw)
        except Exception as exc:
            return self._refuse(400, f"cannot decrypt: {exc!r}")
        status = self.answers.get(subscriber.token, 201)
        if status == 201:
            self.pushes.append(
                Push(subscriber.token, dict(request.headers), claims, payload, bytes(raw))
            )
        return web.Response(status=status, text="" if status == 201 else "gone")

    def _verified_claims(self, authorization: str) -> dict[str, Any]:
        scheme, _, parameters = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"scheme {scheme!r}, not vapid")
        parts = dict(part.strip().split("=", 1) for part in parameters.split(",") if part.strip())
        jwt, key = parts["t"], parts["k"]
        if key != self.application_server_key:
            raise ValueError("k is not the service's applicationServerKey")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        signing_input, _, signature = jwt.rpartition(".")
        raw_signature = b64url_decode(signature)
        if len(raw_signature) != 64:
            raise ValueError("an ES256 signature is 64 bytes")
        der = encode_dss_signature(
            int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big")
        )
        public.verify(der, signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        header_part, _, claims_part = signing_input.partition(".")
        header = json.loads(b64url_decode(header_part))
        if header.get("alg") != "ES256":
            raise ValueError(f"alg {header.get('alg')!r}")
        claims: dict[str, Any] = json.loads(b64url_decode(claims_part))
        if claims["aud"] != self.origin:
            raise ValueError(f"aud {claims['aud']!r} is not {self.origin}")
        now = time.time()
        if not now < claims["exp"] <= now + _DAY:
            raise ValueError(f"exp {claims['exp']} not within the next 24 h")
        if not str(claims["sub"]).startswith(("mailto:", "https://")):
            raise ValueError(f"sub {claims['sub']!r}")
        return claims
