"""Contact methods over REST: a person's own and those their NCB manages, each audited; a
gateway's URL checked against the outbound rules and given a whsec_ secret shown once and
kept sealed; its test code and its alerts arrive as Standard Webhooks a real receiver
verifies with the `standardwebhooks` library; bad input is a 422 naming the field.
(Who may call which route, for every role: tests/test_authorization.py.)"""

from __future__ import annotations

import base64
import ipaddress
import json
import uuid
from typing import Any

import asyncpg
import pytest
from standardwebhooks import Webhook

from app.core.database import Database
from app.core.settings import Settings
from app.models.enums import Role
from tests.audit_trail import details, entries
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed
from tests.factories import World
from tests.http_receiver import HttpReceiver
from tests.waiting import eventually

P256DH = base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
AUTH = base64.urlsafe_b64encode(bytes(16)).decode().rstrip("=")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return changed(
        settings,
        outbox={
            "outbound_allow_http": True,
            "outbound_allowed_networks": [ipaddress.ip_network("127.0.0.0/8")],
            "public_url": "https://relay247.example",
        },
    )


def email(address: str = "someone@police.example", **more: Any) -> dict[str, Any]:
    return {"kind": "email", "address": address, **more}


async def test_an_ncb_manages_its_peoples_methods_and_every_change_is_audited(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    desk, ncb = world.desk("DE"), world("DE", Role.NCB)
    base = f"/v1/principals/{desk.principal_id}/contact-methods"
    async with http(server.http) as client:
        made = await client.post(base, json=email(label="desk"), headers=ncb.headers)
        assert made.status_code == 201, made.text
        method_id = made.json()["id"]
        assert made.headers["cache-control"] == "no-store"
        # The person sees it among their own; another country's NCB may not touch it.
        mine = await client.get("/v1/me/contact-methods", headers=desk.headers)
        assert [m["id"] for m in mine.json()["items"]] == [method_id]
        other = await client.get(base, headers=world("JP", Role.NCB).headers)
        assert other.status_code == 404, other.text  # not one of its people: unseen
        # Another person's method is not found under one's own.
        foreign = await client.delete(f"/v1/me/contact-methods/{method_id}", headers=ncb.headers)
        assert foreign.status_code == 404, foreign.text
        # A test message was asked for; a second one only after a minute.
        again = await client.post(f"{base}/{method_id}/resend-verification", headers=ncb.headers)
        assert again.status_code == 429, again.text
        assert int(again.headers["retry-after"]) >= 1
        await db.execute(
            "UPDATE contact_methods SET verification_sent_at = now() - interval '2 minutes'"
        )
        again = await client.post(f"{base}/{method_id}/resend-verification", headers=ncb.headers)
        assert again.status_code == 200, again.text
        removed = await client.delete(f"{base}/{method_id}", headers=ncb.headers)
        assert removed.status_code == 204, removed.text
        assert (await client.get(base, headers=desk.headers)).json()["items"] == []
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE destination_id = $1 "
            "AND event_type = 'contact.verify'",
            uuid.UUID(method_id),
        )
        == 2
    )
    trail = await entries(database, object_id=method_id)
    assert [e.action for e in trail] == [
        "contact_method.created",
        "contact_method.verification_sent",
        "contact_method.removed",
    ]
    assert {e.actor_principal_id for e in trail} == {ncb.principal_id}
    # Ids and kinds, never the address.
    assert all("someone@police.example" not in json.dumps(details(e)) for e in trail)


async def test_a_gateway_gets_a_secret_once_and_receives_signed_codes_and_alerts(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with HttpReceiver() as receiver, http(server.http) as client:
        made = await client.post(
            "/v1/me/contact-methods",
            json={"kind": "gateway", "address": receiver.url("/sms"), "label": "SMS"},
            headers=desk.headers,
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert secret.startswith("whsec_")
        method_id = made.json()["id"]
        listed = await client.get("/v1/me/contact-methods", headers=desk.headers)
        assert "secret" not in listed.json()["items"][0]
        # Kept sealed: not the secret, nor its key, in the database.
        stored = await db.fetchval(
            "SELECT secret FROM contact_methods WHERE id = $1", uuid.UUID(method_id)
        )
        assert secret.encode() not in stored
        assert base64.b64decode(secret.removeprefix("whsec_")) not in stored

        await eventually(lambda: _arrived(receiver, 1))
        verifier = Webhook(secret)
        test = receiver.at("/sms")[0]
        sent = verifier.verify(test.body, test.headers)
        assert sent["type"] == "contact.verify"
        code = sent["data"]["code"]
        verified = await client.post(
            f"/v1/me/contact-methods/{method_id}/verify",
            json={"code": code},
            headers=desk.headers,
        )
        assert verified.status_code == 200, verified.text

        request_id = (await submit_request(client, world.unit("FR")))["id"]
        await eventually(lambda: _arrived(receiver, 2))
        alert = receiver.at("/sms")[1]
        received = verifier.verify(alert.body, alert.headers)
        message_id = await db.fetchval(
            "SELECT id FROM outbox_messages WHERE request_id = $1 AND route = 'gateway'",
            uuid.UUID(request_id),
        )
        assert alert.webhook_id == str(message_id)
        assert received["type"] == "request.assigned"
        data = received["data"]
        assert (data["request_id"], data["priority"], data["tlp"]) == (
            request_id,
            "urgent",
            "TLP:AMBER",
        )
        assert data["request_url"] == f"https://relay247.example/web/requests/{request_id}"
        assert data["ack_url"].startswith("https://relay247.example/ack/")
        assert "Preserve the mailbox" not in alert.body.decode()
        # Its acknowledge link works as the e-mail's does.
        token = data["ack_url"].rsplit("/", 1)[1]
        acked = await client.post(f"/v1/ack-links/{token}")
        assert acked.status_code == 200, acked.text
        assert acked.json()["acknowledged_by"] == str(desk.principal_id)


async def _arrived(receiver: HttpReceiver, count: int) -> bool:
    return len(receiver.at("/sms")) >= count


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (email("a\u0000b@police.example"), "address"),
        (email("x" * 3000 + "@police.example"), "address"),
        (email("not an address"), "address"),
        (email("name@localhost"), "address"),
        (email("a@b.example\r\nBcc: c@d.example"), "address"),
        (email("someone@police.example", label="x" * 101), "label"),
        (email("someone@police.example", label="a\u0000"), "label"),
        (email("someone@police.example", keys={"p256dh": P256DH, "auth": AUTH}), "keys"),
        ({"kind": "pager", "address": "https://x.example"}, "kind"),
        ({"kind": "web_push", "address": "https://push.example/abc"}, "keys"),
        (
            {
                "kind": "web_push",
                "address": "http://push.example/a",
                "keys": {"p256dh": P256DH, "auth": AUTH},
            },
            "address",
        ),
        (
            {
                "kind": "web_push",
                "address": "https://push.example/a",
                "keys": {"p256dh": AUTH, "auth": AUTH},
            },
            "keys.p256dh",
        ),
        (
            {
                "kind": "web_push",
                "address": "https://push.example/a",
                "keys": {"p256dh": P256DH, "auth": "!!"},
            },
            "keys.auth",
        ),
        ({"kind": "gateway", "address": "ftp://gw.example/x"}, "address"),
        ({"kind": "gateway", "address": "https://user:pw@gw.example/x"}, "address"),
        ({"kind": "gateway", "address": "https://169.254.169.254/latest"}, "address"),
        ({"kind": "gateway", "address": "https://[::1]/x"}, "address"),
        ({**email(), "extra": 1}, "extra"),
        ({"address": "someone@police.example"}, "kind"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    server: RunningServer, world: World, body: dict[str, Any], field: str
) -> None:
    async with http(server.http) as client:
        answer = await client.post(
            "/v1/me/contact-methods", json=body, headers=world.desk("DE").headers
        )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in answer.json()["errors"]], answer.json()


async def test_a_bad_code_input_and_a_method_of_nobody_are_refused(
    server: RunningServer, world: World
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        made = await client.post("/v1/me/contact-methods", json=email(), headers=desk.headers)
        method_id = made.json()["id"]
        for code in ["", "x" * 33, "a\u0000b"]:
            answer = await client.post(
                f"/v1/me/contact-methods/{method_id}/verify",
                json={"code": code},
                headers=desk.headers,
            )
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["field"] == "code"
        missing = await client.post(
            f"/v1/me/contact-methods/{uuid.uuid4()}/verify",
            json={"code": "AAAA-AAAA"},
            headers=desk.headers,
        )
        assert missing.status_code == 404, missing.text


async def test_a_person_has_at_most_twenty_methods(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    await db.executemany(
        "INSERT INTO contact_methods (id, principal_id, kind, address) "
        "VALUES ($1, $2, 'email', $3)",
        [(uuid.uuid4(), desk.principal_id, f"m{i}@police.example") for i in range(20)],
    )
    async with http(server.http) as client:
        answer = await client.post("/v1/me/contact-methods", json=email(), headers=desk.headers)
    assert answer.status_code == 409, answer.text
