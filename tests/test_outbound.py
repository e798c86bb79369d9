"""What leaves for another organisation's system: the guard that keeps a URL from reaching
inside relay247's network (checked where the socket is made, after DNS), what each answer
means for the delivery, Standard Webhooks signatures as the standard's own library checks
them, and secrets sealed for keeping. Against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook

from app.core.service_secret import ServiceSecret, ServiceSecretError
from app.core.settings import OutboxSettings
from app.outbound.http import OutboundHttp, retry_after_seconds
from app.outbound.signatures import (
    PUBLIC_KEY_PREFIX,
    SigningKeyError,
    new_hmac_secret,
    new_signing_key,
    public_key_of,
    signature_headers,
)
from app.outbox.couriers import DELIVERED, REFUSED, REJECTED, TIMEOUT, UNREACHABLE
from tests.conftest import free_port
from tests.http_receiver import HttpReceiver, answer, held


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with HttpReceiver() as running:
        yield running


def _client(**settings: object) -> OutboundHttp:
    base = {"outbound_allow_http": True, "outbound_allowed_networks": ["127.0.0.0/8"]}
    return OutboundHttp(OutboxSettings.model_validate(base | settings))


def test_a_destination_must_be_https_and_public_unless_the_settings_allow_it() -> None:
    strict = OutboundHttp(OutboxSettings())
    assert strict.refusal("https://cases.example.org/hook") is None
    assert "https" in (strict.refusal("http://cases.example.org/hook") or "")
    for url in (
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "https://[fd00:ec2::254]/hook",
    ):
        assert "may not reach" in (strict.refusal(url) or ""), url
    assert "user name" in (strict.refusal("https://user:pw@cases.example.org/") or "")
    assert "valid URL" in (strict.refusal("https://cases.example.org:99999/") or "")
    assert "host" in (strict.refusal("https:///hook") or "")
    assert strict.refusal("ftp://cases.example.org/") is not None
    allowed = _client()
    assert allowed.refusal("http://127.0.0.1:9/hook") is None
    assert allowed.refusal("http://10.0.0.1/hook") is not None  # only 127/8 is allowed


async def test_a_name_resolving_to_a_refused_address_is_refused_when_connecting(
    receiver: HttpReceiver,
) -> None:
    receiver.routes["/hook"] = answer(204)
    # http allowed, but no network: "localhost" passes the URL check (a name), and the
    # address it resolves to is refused where the socket is made.
    guard = _client(outbound_allowed_networks=[])
    try:
        outcome = await guard.post(receiver.url("/hook", host="localhost"), b"{}", {})
        assert outcome.outcome == REFUSED
        assert "127.0.0.1" in (outcome.response or "") or "::1" in (outcome.response or "")
        literal = await guard.post(receiver.url("/hook"), b"{}", {})
        assert literal.outcome == REFUSED
        assert literal.final
        assert receiver.arrivals == []
    finally:
        await guard.close()
    allowed = _client()
    try:
        assert (await allowed.post(receiver.url("/hook", "localhost"), b"{}", {})).delivered
    finally:
        await allowed.close()


async def test_each_answer_means_what_the_delivery_rules_say(receiver: HttpReceiver) -> None:
    receiver.routes.update(
        {
            "/ok": answer(202, "taken"),
            "/moved": answer(307, headers={"Location": "/ok"}),
            "/gone": answer(410, "endpoint removed"),
            "/busy": answer(429, headers={"Retry-After": "120"}),
            "/down": answer(503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}),
            "/broken": answer(500, "x" * 10_000),
        }
    )
    client = _client()
    try:
        ok = await client.post(receiver.url("/ok"), b"{}", {"content-type": "application/json"})
        assert (ok.outcome, ok.status_code, ok.response) == (DELIVERED, 202, "taken")
        moved = await client.post(receiver.url("/moved"), b"{}", {})
        assert (moved.outcome, moved.status_code) == (REJECTED, 307)
        assert len(receiver.at("/ok")) == 1  # a redirect is a failure, never followed
        gone = await client.post(receiver.url("/gone"), b"{}", {})
        assert gone.outcome == REJECTED
        assert gone.final
        busy = await client.post(receiver.url("/busy"), b"{}", {})
        assert busy.retry_after == 120
        assert not busy.final
        down = await client.post(receiver.url("/down"), b"{}", {})
        assert down.retry_after == 86_400  # bounded
        broken = await client.post(receiver.url("/broken"), b"{}", {})
        assert broken.outcome == REJECTED
        assert len(broken.response or "") == 1024
    finally:
        await client.close()


async def test_a_slow_or_absent_destination_is_a_timeout_or_unreachable(
    receiver: HttpReceiver,
) -> None:
    release = asyncio.Event()
    receiver.routes["/slow"] = held(release)
    client = _client(send_timeout=timedelta(seconds=0.3))
    try:
        started = time.monotonic()
        outcome = await client.post(receiver.url("/slow"), b"{}", {})
        assert outcome.outcome == TIMEOUT
        assert time.monotonic() - started < 5
        nobody = await client.post(f"http://127.0.0.1:{free_port()}/", b"{}", {})
        assert nobody.outcome == UNREACHABLE
        assert not nobody.final
    finally:
        release.set()
        await client.close()


def test_retry_after_reads_seconds_and_dates_and_ignores_nonsense() -> None:
    assert retry_after_seconds("30") == 30
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("\x00") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT") == 0


def test_v1_signatures_verify_with_the_standard_webhooks_library_during_a_rotation() -> None:
    old, new = new_hmac_secret(), new_hmac_secret()
    body = b'{"type":"request.assigned","data":{"id":"r1"}}'
    headers = signature_headers("msg_1", int(time.time()), body, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["type"] == "request.assigned"
    with pytest.raises(Exception, match="signature"):
        Webhook(new_hmac_secret()).verify(body, headers)
    tampered = body.replace(b"r1", b"r2")
    with pytest.raises(Exception, match="signature"):
        Webhook(new).verify(tampered, headers)


def test_v1a_signatures_verify_with_the_public_key_alone() -> None:
    private, public = new_signing_key()
    assert public.startswith(PUBLIC_KEY_PREFIX)
    assert public == public_key_of(private)
    body = b'{"type":"request.acknowledged"}'
    headers = signature_headers("msg_2", 1_700_000_000, body, [private])
    scheme, signature = headers["webhook-signature"].split(",", 1)
    assert scheme == "v1a"
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public[len(PUBLIC_KEY_PREFIX) :]))
    key.verify(base64.b64decode(signature), b"msg_2.1700000000." + body)
    with pytest.raises(SigningKeyError):
        signature_headers("m", 1, body, ["whsk_not-base64!"])
    with pytest.raises(SigningKeyError):
        signature_headers("m", 1, body, ["sk_live_123"])


def test_a_sealed_secret_opens_only_with_the_same_file_and_purpose(tmp_path: Path) -> None:
    directory = tmp_path
    secret = ServiceSecret(directory / "service.key")
    sealed = secret.seal("webhook-secret", b"whsec_abc")
    assert b"whsec_abc" not in sealed
    assert secret.open("webhook-secret", sealed) == b"whsec_abc"
    with pytest.raises(ServiceSecretError):
        secret.open("gateway-secret", sealed)
    with pytest.raises(ServiceSecretError):
        secret.open("webhook-secret", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(ServiceSecretError):
        ServiceSecret(directory / "other.key").open("webhook-secret", sealed)
    with pytest.raises(ServiceSecretError):
        secret.open("webhook-secret", b"")
