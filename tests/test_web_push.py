"""Web Push end to end: the real service sends, through its guarded HTTP client, to a push
service on loopback (tests/push_receiver.py) that checks the VAPID JWT and decrypts each push
with the subscription's own keys, as the browser would. What a push says (metadata only), its
withdrawal on an acknowledgement, a subscription the push service says is gone, a push
service on a private address, and who was alerted as the API tells it."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from py_vapid import Vapid02  # type: ignore[import-untyped]

from app.alerts import ack_links
from app.alerts.vapid import Vapid
from app.core.service_secret import ServiceSecret
from app.core.settings import Settings
from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed, running_server
from tests.factories import Party, World
from tests.push_receiver import PushReceiver, Subscriber
from tests.waiting import eventually

# Values of the fields' own types (changed() does not validate).
LOOPBACK = {
    "outbound_allow_http": True,
    "outbound_allowed_networks": [ipaddress.ip_network("127.0.0.0/8")],
}
# What a request's content is made of (tests/factories.request_body): none of it may leave.
CONTENT = [
    "Preserve the mailbox",
    "negotiator@example.org",
    "203.0.113.7",
    "Budapest Convention",
    "preserve for 90 days",
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return changed(settings, outbox={**LOOPBACK, "public_url": "https://relay.example.org"})


@pytest.fixture
async def receiver(server: RunningServer, world: World) -> AsyncIterator[PushReceiver]:
    async with http(server.http) as client:
        response = await client.get("/v1/push/vapid-public-key", headers=world.unit("FR").headers)
    assert response.status_code == 200, response.text
    async with PushReceiver(response.json()["application_server_key"]) as running:
        yield running


async def subscribed(db: asyncpg.Connection, party: Party, subscriber: Subscriber) -> uuid.UUID:
    """A verified web_push contact method of ``party`` for ``subscriber``, as the contact
    methods' API leaves one once confirmed."""
    method_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO contact_methods (id, principal_id, kind, label, address, keys, verified_at) "
        "VALUES ($1, $2, 'web_push', 'phone', $3, $4, now())",
        method_id,
        party.principal_id,
        subscriber.endpoint,
        json.dumps(subscriber.keys),
    )
    return method_id


async def alerts_of(client: httpx.AsyncClient, request_id: str, party: Party) -> httpx.Response:
    return await client.get(f"/v1/requests/{request_id}/alerts", headers=party.headers)


async def test_an_assigned_officer_gets_a_push_with_metadata_only_and_its_withdrawal_on_ack(
    server: RunningServer, world: World, db: asyncpg.Connection, receiver: PushReceiver
) -> None:
    desk = world.desk("DE")
    phone = receiver.subscribe()
    await subscribed(db, desk, phone)
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), priority="emergency"))["id"]
        await eventually(lambda: _count(receiver, phone, 1))
        [push] = receiver.received(phone.token)
        alert = push.payload
        assert alert["kind"] == "alert"
        assert alert["request_id"] == request_id
        assert alert["reason"] == "assigned"
        assert (alert["type"], alert["priority"], alert["tlp"]) == (
            "preservation",
            "emergency",
            "TLP:AMBER",
        )
        assert alert["countries"] == ["FR", "DE"]
        assert alert["deadline"] is not None
        assert "acknowledge by" in alert["body"]
        assert "FR \u2192 DE" in alert["title"]
        assert alert["url"] == f"https://relay.example.org/web/requests/{request_id}"
        secret = server.app.state.service_secret
        assert alert["ack"] == ack_links.token(secret, uuid.UUID(alert["id"]))
        for text in CONTENT:
            assert text.encode() not in push.raw, text
        # RFC 8030 headers: an emergency wakes the device; the topic is the request's.
        assert push.headers["Urgency"] == "high"
        assert push.headers["TTL"] == "86400"
        assert push.claims["sub"] == "mailto:relay247@localhost"

        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=desk.headers)
        assert acked.status_code == 200, acked.text
        await eventually(lambda: _count(receiver, phone, 2))
        withdrawal = receiver.received(phone.token)[1]
        assert withdrawal.payload["withdraw"] == request_id
        # The same topic: on the push service, the withdrawal replaces an alert not fetched.
        assert withdrawal.headers["Topic"] == push.headers["Topic"]
        assert receiver.refused == []

        # Who was alerted: the requester sees how and whether it arrived, not the name.
        listed = await alerts_of(client, request_id, world.unit("FR"))
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [(i["event_type"], i["reason"]) for i in items] == [
            ("request.assigned", "assigned"),
            ("alert.withdrawn", None),
        ]
        first = items[0]
        assert (first["route"], first["status"], first["delivered"]) == (
            "web_push",
            "sent",
            True,
        )
        assert (first["last_outcome"], first["last_status_code"], first["attempts"]) == (
            "delivered",
            201,
            1,
        )
        assert first["person"]["id"] == str(desk.principal_id)
        assert (first["person"]["role"], first["person"]["country"]) == ("contact_point", "DE")
        assert first["person"]["name"] is None
        assert "address" not in first
        assert phone.endpoint not in listed.text
        # Paged like every list, oldest first.
        first_page = (
            await client.get(
                f"/v1/requests/{request_id}/alerts",
                params={"limit": 1},
                headers=world.unit("FR").headers,
            )
        ).json()
        assert [i["id"] for i in first_page["items"]] == [first["id"]]
        rest = await client.get(
            f"/v1/requests/{request_id}/alerts",
            params={"limit": 1, "cursor": first_page["next_cursor"]},
            headers=world.unit("FR").headers,
        )
        assert [i["id"] for i in rest.json()["items"]] == [items[1]["id"]]
        assert rest.json()["next_cursor"] is None
        # Its own country's people see the name.
        own = await alerts_of(client, request_id, world("DE", Role.NCB))
        name = await db.fetchval("SELECT name FROM principals WHERE id = $1", desk.principal_id)
        assert own.json()["items"][0]["person"]["name"] == name
        # Who may not see the request is told it does not exist.
        other = await alerts_of(client, request_id, world.unit("JP"))
        assert other.status_code == 404, other.text


async def _count(receiver: PushReceiver, subscriber: Subscriber, count: int) -> bool:
    assert len(receiver.received(subscriber.token)) <= count
    return len(receiver.received(subscriber.token)) == count


async def test_a_subscription_the_push_service_says_is_gone_is_disabled_at_once(
    server: RunningServer, world: World, db: asyncpg.Connection, receiver: PushReceiver
) -> None:
    desk = world.desk("DE")
    gone, kept = receiver.subscribe(), receiver.subscribe()
    gone_id = await subscribed(db, desk, gone)
    await subscribed(db, desk, kept)
    receiver.answers[gone.token] = 410
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        await eventually(lambda: _count(receiver, kept, 1))

        async def disabled() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT disabled_at IS NOT NULL FROM contact_methods WHERE id = $1", gone_id
                )
            )

        await eventually(disabled)
        # No retry: the one attempt, failed.
        row = await db.fetchrow(
            "SELECT status, attempts FROM outbox_messages WHERE destination_id = $1", gone_id
        )
        assert (row["status"], row["attempts"]) == ("failed", 1)
        entry = await db.fetchrow(
            "SELECT details FROM audit_entries WHERE action = 'contact_method.disabled' "
            "AND object_id = $1",
            str(gone_id),
        )
        assert entry is not None
        assert json.loads(entry["details"])["status_code"] == 410
        # As the API tells it: one failed for good (410), one delivered.
        listed = (await alerts_of(client, request_id, world.gs)).json()["items"]
        outcomes = sorted((i["status"], i["last_status_code"]) for i in listed)
        assert outcomes == [("failed", 410), ("sent", 201)]
    assert receiver.received(gone.token) == []


async def test_a_push_service_on_a_private_address_is_refused_unless_allowed(
    database_url: str, settings: Settings, world: World, db: asyncpg.Connection
) -> None:
    """Loopback is not allow-listed here: the courier never connects, whether the endpoint
    names the address or a name resolving to it (refused when connecting, after DNS)."""
    strict = changed(
        settings,
        outbox={
            "outbound_allow_http": True,
            "outbound_allowed_networks": [],
            "alert_retry_schedule": [0],
        },
    )
    async with running_server(database_url, strict) as server, http(server.http) as client:
        key = (await client.get("/v1/push/vapid-public-key", headers=world.gs.headers)).json()[
            "application_server_key"
        ]
        async with PushReceiver(key) as receiver:
            literal, named = receiver.subscribe(), receiver.subscribe()
            named.endpoint = named.endpoint.replace("127.0.0.1", "localhost")
            methods = [await subscribed(db, world.desk("DE"), s) for s in (literal, named)]
            await submit_request(client, world.unit("FR"))

            async def failed() -> bool:
                count = await db.fetchval(
                    "SELECT count(*) FROM outbox_messages "
                    "WHERE destination_id = ANY($1) AND status = 'failed'",
                    methods,
                )
                return bool(count == 2)

            await eventually(failed)
            attempts = await db.fetch(
                "SELECT a.outcome, a.response FROM outbox_attempts a "
                "JOIN outbox_messages m ON m.id = a.message_id WHERE m.destination_id = ANY($1)",
                methods,
            )
            assert sorted(a["outcome"] for a in attempts) == ["refused", "refused"]
            assert all("may not reach" in a["response"] for a in attempts), attempts
            assert receiver.pushes == []
            assert receiver.refused == []


async def test_the_vapid_key_is_the_same_on_every_instance_and_needs_a_token(
    database_url: str, settings: Settings, server: RunningServer, world: World
) -> None:
    async with running_server(database_url, settings) as other:
        keys = []
        for base in (server.http, other.http):
            async with http(base) as client:
                response = await client.get(
                    "/v1/push/vapid-public-key", headers=world.desk("DE").headers
                )
                assert response.status_code == 200, response.text
                keys.append(response.json()["application_server_key"])
                anonymous = await client.get("/v1/push/vapid-public-key")
                assert anonymous.status_code == 401
    assert keys[0] == keys[1]
    assert len(keys[0]) == 87  # 65 bytes, base64url unpadded


async def test_a_subscription_with_unusable_keys_fails_at_once_without_a_connection(
    server: RunningServer, world: World, db: asyncpg.Connection, receiver: PushReceiver
) -> None:
    phone = receiver.subscribe()
    method_id = await subscribed(db, world.desk("DE"), phone)
    # Not a point of P-256: nothing can be encrypted for it, now or on a retry.
    await db.execute(
        "UPDATE contact_methods SET keys = $2 WHERE id = $1",
        method_id,
        json.dumps({"p256dh": "BA" + "A" * 85, "auth": phone.keys["auth"]}),
    )
    async with http(server.http) as client:
        await submit_request(client, world.unit("FR"))

    async def failed() -> bool:
        row = await db.fetchrow(
            "SELECT m.status, m.attempts, a.outcome FROM outbox_messages m "
            "JOIN outbox_attempts a ON a.message_id = m.id WHERE m.destination_id = $1",
            method_id,
        )
        return row is not None and tuple(row) == ("failed", 1, "invalid")

    await eventually(failed)
    assert receiver.pushes == []


async def test_the_requester_is_pushed_a_question_without_an_acknowledge_action(
    server: RunningServer, world: World, db: asyncpg.Connection, receiver: PushReceiver
) -> None:
    unit, desk = world.unit("FR"), world.desk("DE")
    laptop = receiver.subscribe()
    await subscribed(db, unit, laptop)
    async with http(server.http) as client:
        request_id = (await submit_request(client, unit))["id"]
        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=desk.headers)
        assert acked.status_code == 200, acked.text
        asked = await client.post(
            f"/v1/requests/{request_id}/actions/request_info",
            json={"reason": "Which mailbox exactly?"},
            headers=desk.headers,
        )
        assert asked.status_code == 200, asked.text
        await eventually(lambda: _count(receiver, laptop, 1))
    [push] = receiver.received(laptop.token)
    assert push.payload["reason"] == "asked_for_information"
    assert push.payload["ack"] is None
    assert push.payload["url"].endswith(f"/web/requests/{request_id}")
    # The question's text is content: it is not in the push.
    assert b"Which mailbox" not in push.raw
    assert push.headers["Urgency"] == "normal"


async def test_a_browser_is_verified_by_the_code_its_test_push_shows(
    server: RunningServer, world: World, db: asyncpg.Connection, receiver: PushReceiver
) -> None:
    """The way a dashboard goes (app/alerts/contacts.py): the subscription is registered
    unverified, a test push carries its code, the code confirms it; alerts follow. (Made in
    the database: the API takes https endpoints only, and the receiver speaks http.)"""
    desk = world.desk("DE")
    phone = receiver.subscribe()
    method_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO contact_methods (id, principal_id, kind, address, keys) "
        "VALUES ($1, $2, 'web_push', $3, $4)",
        method_id,
        desk.principal_id,
        phone.endpoint,
        json.dumps(phone.keys),
    )
    path = f"/v1/me/contact-methods/{method_id}"
    async with http(server.http) as client:
        asked = await client.post(f"{path}/resend-verification", headers=desk.headers)
        assert asked.status_code == 200, asked.text
        await eventually(lambda: _count(receiver, phone, 1))
        [test_push] = receiver.received(phone.token)
        assert test_push.payload["kind"] == "verify"
        assert test_push.headers["Urgency"] == "normal"
        assert test_push.headers["TTL"] == "600"
        verified = await client.post(
            f"{path}/verify", json={"code": test_push.payload["verify"]}, headers=desk.headers
        )
        assert verified.status_code == 200, verified.text
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        await eventually(lambda: _count(receiver, phone, 2))
    assert receiver.received(phone.token)[1].payload["request_id"] == request_id
    assert receiver.refused == []


def test_the_vapid_header_verifies_with_py_vapid_and_the_key_is_derived_not_random(
    tmp_path: Path,
) -> None:
    """Interoperability with the maintained implementation (py_vapid, pywebpush's), and the
    same key from the same secret file (another process, another instance)."""
    secret = tmp_path / "service-secret.key"
    first, again = Vapid(ServiceSecret(secret)), Vapid(ServiceSecret(secret))
    assert first.application_server_key == again.application_server_key
    header = first.authorization(
        "https://push.example.net/wpush/v2/abc", subject="mailto:ops@relay.example.org"
    )
    assert Vapid02.verify(header)
    other = Vapid(ServiceSecret(tmp_path / "another.key"))
    assert other.application_server_key != first.application_server_key


async def test_a_push_service_that_fails_is_tried_again_with_the_same_message(
    server: RunningServer, world: World, db: asyncpg.Connection, receiver: PushReceiver
) -> None:
    desk = world.desk("DE")
    phone = receiver.subscribe()
    method_id = await subscribed(db, desk, phone)
    receiver.answers[phone.token] = 503
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]

        async def tried(count: int) -> bool:
            attempts = await db.fetchval(
                "SELECT attempts FROM outbox_messages WHERE destination_id = $1 "
                "AND status = 'pending' AND leased_until IS NULL",
                method_id,
            )
            return bool(attempts == count)

        await eventually(lambda: tried(1))
        # The push service is back; the retry is brought due now rather than waited for.
        del receiver.answers[phone.token]
        await db.execute(
            "UPDATE outbox_messages SET due_at = now() WHERE destination_id = $1", method_id
        )
        await eventually(lambda: _count(receiver, phone, 1))
        [push] = receiver.received(phone.token)

        async def recorded() -> bool:
            # The push service has the message before the sender commits what it answered.
            listed = (await alerts_of(client, request_id, desk)).json()["items"]
            return bool(listed) and listed[0]["status"] != "pending"

        await eventually(recorded)
        listed = (await alerts_of(client, request_id, desk)).json()["items"]
    [alert] = listed
    assert alert["id"] == push.payload["id"]
    assert (alert["attempts"], alert["status"], alert["last_outcome"]) == (2, "sent", "delivered")


async def test_the_notifications_acknowledge_action_acknowledges_and_withdraws_it(
    server: RunningServer, world: World, db: asyncpg.Connection, receiver: PushReceiver
) -> None:
    """What the service worker's Acknowledge action does: POST the push's token, without a
    bearer token; every device of the person is then told to withdraw the notification."""
    desk = world.desk("DE")
    phone, laptop = receiver.subscribe(), receiver.subscribe()
    for device in (phone, laptop):
        await subscribed(db, desk, device)
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        await eventually(lambda: _count(receiver, phone, 1))
        [alert] = receiver.received(phone.token)
        used = await client.post(f"/v1/ack-links/{alert.payload['ack']}")
        assert used.status_code == 200, used.text
        shown = await client.get(f"/v1/requests/{request_id}", headers=desk.headers)
        assert shown.json()["status"] == "acknowledged"
        assert shown.json()["acknowledged_by"] == str(desk.principal_id)
        for device in (phone, laptop):
            await eventually(lambda device=device: _count(receiver, device, 2))
            assert receiver.received(device.token)[1].payload["withdraw"] == request_id
        again = await client.post(f"/v1/ack-links/{alert.payload['ack']}")
        assert again.status_code == 409, again.text
