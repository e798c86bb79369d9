"""Standard Webhooks to case systems, end to end with real parts: requests submitted over
the API, the real sender, and a real receiver on loopback that verifies every message with
the `standardwebhooks` library (v1) or Ed25519 (v1a). Time is driven by the test: a retry is
brought due by moving its due_at, never waited for."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.settings import Settings
from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed, running_server
from tests.factories import Party, World
from tests.smtp_server import smtp_server
from tests.waiting import eventually
from tests.webhook_receiver import Answer, WebhookReceiver, verifies, webhook_receiver

# changed() does not validate: the networks as the setting holds them.
LOOPBACK = {
    "outbound_allow_http": True,
    "outbound_allowed_networks": [ipaddress.ip_network("127.0.0.0/8")],
}
THIN = {
    "request_id",
    "type",
    "priority",
    "status",
    "requesting_country",
    "target_country",
    "handling_code",
    "version",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return changed(settings, outbox={**LOOPBACK, "retry_jitter": 0.0})


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as found:
        yield found


def ncb(world: World) -> Party:
    """Germany's NCB: its agency's endpoints hear Germany's desk, where FR's requests arrive."""
    return world("DE", Role.NCB)


async def create(
    client: httpx.AsyncClient, party: Party, url: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, **fields}, headers=party.headers
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created: dict[str, Any] = response.json()
    return created


async def log(client: httpx.AsyncClient, party: Party, endpoint_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/webhook-endpoints/{endpoint_id}/messages", headers=party.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def bring_due(db: asyncpg.Connection, endpoint_id: str) -> None:
    await db.execute(
        "UPDATE outbox_messages SET due_at = now() WHERE destination_id = $1 "
        "AND status = 'pending'",
        uuid.UUID(endpoint_id),
    )


async def until_attempts(
    client: httpx.AsyncClient, party: Party, endpoint_id: str, count: int
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def attempted() -> bool:
        nonlocal found
        found = await log(client, party, endpoint_id)
        return bool(found) and len(found[0]["attempts"]) >= count

    await eventually(attempted, within=20)
    return found


async def test_a_submitted_request_reaches_the_case_system_signed_and_thin(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url(), description="case system")
        assert endpoint["secret"].startswith("whsec_")
        assert endpoint["channels"] == [
            f"agency:{ncb(world).agency_id}",
            "desk:DE",
        ]
        receiver.keys = [endpoint["secret"]]
        request = await submit_request(client, world.unit("FR"))
        await eventually(lambda: _true(receiver.accepted()), within=20)
        got = receiver.accepted()[0]
        assert got.body["type"] == "request.assigned"
        assert set(got.body) == {"type", "timestamp", "data"}
        assert got.body["data"]["request_id"] == request["id"]
        assert set(got.body["data"]) == THIN  # no subject, details, identifiers
        messages = await until_attempts(client, ncb(world), endpoint["id"], 1)
        assert messages[0]["id"] == got.id  # webhook-id is the message's id
        assert messages[0]["status"] == "sent"
        attempt = messages[0]["attempts"][0]
        assert attempt["outcome"] == "delivered"
        assert attempt["status_code"] == 200
        assert attempt["duration_ms"] >= 0
        assert attempt["response"] == "thanks"
        # The secret is never shown again.
        shown = await client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=ncb(world).headers
        )
        assert "secret" not in shown.json()


async def _true(value: Any) -> bool:
    return bool(value)


async def test_v1a_is_verified_with_the_public_key_alone(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url(), scheme="v1a")
        assert endpoint["secret"].startswith("whpk_")
        assert endpoint["public_key"] == endpoint["secret"]
        assert endpoint["scheme"] == "v1a"
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"))
        await eventually(lambda: _true(receiver.accepted()), within=20)
        assert receiver.accepted()[0].signatures[0].startswith("v1a,")


async def test_a_receiver_down_then_back_gets_the_message_with_the_same_id(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await receiver.stop()
        await submit_request(client, world.unit("FR"))
        messages = await until_attempts(client, ncb(world), endpoint["id"], 1)
        assert messages[0]["attempts"][0]["outcome"] == "unreachable"
        assert messages[0]["status"] == "pending"
        failing = await client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=ncb(world).headers
        )
        assert failing.json()["failing_since"] is not None
        # The schedule's second step is 5 s away; a third failure, then back.
        await bring_due(db, endpoint["id"])
        await until_attempts(client, ncb(world), endpoint["id"], 2)
        await receiver.start()
        await bring_due(db, endpoint["id"])
        messages = await until_attempts(client, ncb(world), endpoint["id"], 3)
        assert [a["outcome"] for a in messages[0]["attempts"]] == [
            "unreachable",
            "unreachable",
            "delivered",
        ]
        assert [r.id for r in receiver.accepted()] == [messages[0]["id"]]
        healthy = await client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=ncb(world).headers
        )
        assert healthy.json()["failing_since"] is None


async def test_retry_after_on_503_is_honoured(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    receiver.answers.append(Answer(503, {"Retry-After": "120"}))
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"))
        await until_attempts(client, ncb(world), endpoint["id"], 1)
    wait = await db.fetchval(
        "SELECT extract(epoch FROM due_at - now()) FROM outbox_messages WHERE destination_id = $1",
        uuid.UUID(endpoint["id"]),
    )
    assert 100 < wait <= 120  # not the schedule's 5 s


async def test_a_redirect_is_a_failure_and_is_not_followed(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    receiver.answers.append(Answer(307, {"Location": receiver.url("/elsewhere")}))
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"))
        messages = await until_attempts(client, ncb(world), endpoint["id"], 1)
    attempt = messages[0]["attempts"][0]
    assert (attempt["outcome"], attempt["status_code"]) == ("rejected", 307)
    assert messages[0]["status"] == "pending"  # tried again on the schedule
    assert len(receiver.received) == 1


async def _verified_contact(db: asyncpg.Connection, principal_id: uuid.UUID) -> uuid.UUID:
    method = uuid.uuid4()
    await db.execute(
        "INSERT INTO contact_methods (id, principal_id, kind, address, verified_at) "
        "VALUES ($1, $2, 'email', 'ncb-de@example.org', now())",
        method,
        principal_id,
    )
    return method


async def test_410_disables_the_endpoint_and_tells_its_agency_another_way(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    method = await _verified_contact(db, ncb(world).principal_id)
    receiver.answers.append(Answer(410))
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"))
        messages = await until_attempts(client, ncb(world), endpoint["id"], 1)
        assert messages[0]["status"] == "failed"  # no retry
        shown = (
            await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=ncb(world).headers)
        ).json()
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    await _told(db, endpoint["id"], method)


async def _told(db: asyncpg.Connection, endpoint_id: str, method: uuid.UUID) -> None:
    alert = await db.fetchrow(
        "SELECT route, payload FROM outbox_messages WHERE event_type = 'webhook.disabled' "
        "AND destination_id = $1",
        method,
    )
    assert alert is not None
    assert alert["route"] == "email"
    assert endpoint_id in alert["payload"]
    entry = await db.fetchrow(
        "SELECT actor_principal_id FROM audit_entries WHERE action = "
        "'webhook_endpoint.disabled' AND object_id = $1",
        endpoint_id,
    )
    assert entry is not None
    assert entry["actor_principal_id"] is None


async def test_failing_for_the_disable_period_disables_and_alerts(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    method = await _verified_contact(db, ncb(world).principal_id)
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await db.execute(
            "UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' "
            "WHERE id = $1",
            uuid.UUID(endpoint["id"]),
        )
        receiver.answers.append(Answer(500))
        await submit_request(client, world.unit("FR"))
        await until_attempts(client, ncb(world), endpoint["id"], 1)

        async def disabled() -> bool:
            got = await client.get(
                f"/v1/webhook-endpoints/{endpoint['id']}", headers=ncb(world).headers
            )
            return got.json()["enabled"] is False

        await eventually(disabled, within=10)
    await _told(db, endpoint["id"], method)


async def test_a_rotation_signs_with_both_secrets_during_the_overlap(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        rotated = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=ncb(world).headers
        )
        assert rotated.status_code == 201, rotated.text
        new = rotated.json()["secret"]
        assert new != endpoint["secret"]
        assert rotated.json()["previous_secret_until"]
        receiver.keys = [endpoint["secret"], new]
        await submit_request(client, world.unit("FR"))
        await eventually(lambda: _true(receiver.accepted()), within=20)
    got = receiver.accepted()[0]
    assert got.verified_by == [endpoint["secret"], new]
    assert len(got.signatures) == 2


async def test_above_the_tlp_ceiling_only_the_id_and_type_are_sent(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url(), tlp_ceiling="GREEN")
        receiver.keys = [endpoint["secret"]]
        amber = await submit_request(client, world.unit("FR"), handling_code="AMBER")
        await eventually(lambda: _true(receiver.accepted()), within=20)
        green = await submit_request(client, world.unit("FR"), handling_code="GREEN")
        await eventually(lambda: _true(len(receiver.accepted()) == 2), within=20)
    bodies = {r.body["data"]["request_id"]: r.body for r in receiver.accepted()}
    assert bodies[amber["id"]]["data"] == {"request_id": amber["id"]}
    assert bodies[amber["id"]]["type"] == "request.assigned"
    assert set(bodies[green["id"]]["data"]) == THIN


async def test_event_type_filters(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url(), event_types=["message.posted"])
        await submit_request(client, world.unit("FR"))
    count = await db.fetchval(
        "SELECT count(*) FROM outbox_messages WHERE destination_id = $1",
        uuid.UUID(endpoint["id"]),
    )
    assert count == 0


async def test_resend_sends_the_same_id_again(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"))
        messages = await until_attempts(client, ncb(world), endpoint["id"], 1)
        message_id = messages[0]["id"]
        resent = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/messages/{message_id}/resend",
            headers=ncb(world).headers,
        )
        assert resent.status_code == 202, resent.text
        await eventually(lambda: _true(len(receiver.accepted()) == 2), within=20)
    assert [r.id for r in receiver.accepted()] == [message_id, message_id]


async def test_recover_requeues_what_failed_and_skips_what_was_delivered(
    database_url: str, settings: Settings, world: World, receiver: WebhookReceiver
) -> None:
    once = changed(settings, outbox={**LOOPBACK, "webhook_retry_schedule": [0]})
    async with running_server(database_url, once) as server, http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"))
        await eventually(lambda: _true(receiver.accepted()), within=20)
        receiver.answers.extend([Answer(500), Answer(500)])
        await submit_request(client, world.unit("FR"))
        await submit_request(client, world.unit("FR"))

        async def failed() -> bool:
            items = await log(client, ncb(world), endpoint["id"])
            return sorted(m["status"] for m in items) == ["failed", "failed", "sent"]

        await eventually(failed, within=20)
        only_failed = await client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/messages",
            params={"status": "failed"},
            headers=ncb(world).headers,
        )
        assert [m["status"] for m in only_failed.json()["items"]] == ["failed", "failed"]
        recovered = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/recover",
            json={"since": "2000-01-01T00:00:00Z"},
            headers=ncb(world).headers,
        )
        assert recovered.status_code == 202, recovered.text
        assert recovered.json() == {"requeued": 2}
        await eventually(lambda: _true(len(receiver.accepted()) == 3), within=20)
    assert len({r.id for r in receiver.accepted()}) == 3


async def test_a_name_resolving_to_loopback_is_refused_when_connecting(
    database_url: str, settings: Settings, world: World, receiver: WebhookReceiver
) -> None:
    # http allowed (the receiver has no TLS), no network allow-listed.
    guarded = changed(
        settings, outbox={"outbound_allow_http": True, "outbound_allowed_networks": []}
    )
    async with running_server(database_url, guarded) as server, http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url(host="localhost"))
        await submit_request(client, world.unit("FR"))
        messages = await until_attempts(client, ncb(world), endpoint["id"], 1)
    attempt = messages[0]["attempts"][0]
    assert attempt["outcome"] == "refused"
    assert "127.0.0.1" in attempt["response"]
    assert receiver.received == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://169.254.169.254/latest/meta-data", "may not reach"),
        ("https://10.0.0.7/hooks", "may not reach"),
        ("https://[::1]/hooks", "may not reach"),
        ("ftp://cases.example.org/hooks", "https"),
        ("https://user:pw@cases.example.org/hooks", "user name"),
        ("https:///hooks", "host"),
        ("not a url", "https"),
        ("https://cases.example.org/" + "a" * 2100, "2048"),
        ("https://cases.example.org/\u0000", "NUL"),
        ("https://127.1/hooks", "a.b.c.d"),
        ("https://2130706433/hooks", "a.b.c.d"),
        ("https://cases example.org/hooks", "spaces"),
        ("https://cases.example.org/\r\nX-Injected: 1", "control"),
        ("https://-cases-.example.org/", "no valid host"),
    ],
)
async def test_bad_urls_are_refused_naming_the_field(
    database_url: str, settings: Settings, world: World, url: str, why: str
) -> None:
    strict = changed(
        settings, outbox={"outbound_allow_http": False, "outbound_allowed_networks": []}
    )
    async with running_server(database_url, strict) as server, http(server.http) as client:
        response = await client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=ncb(world).headers
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "url" in response.json()["detail"]
    assert why in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"description": "\u0000"},
        {"description": "x" * 201},
        {"event_types": ["request.nope"]},
        {"event_types": ["message.posted", "message.posted"]},
        {"tlp_ceiling": "PURPLE"},
        {"scheme": "v2"},
        {"secret": "whsec_mine"},
    ],
)
async def test_bad_inputs_are_422(
    server: RunningServer, world: World, receiver: WebhookReceiver, body: dict[str, Any]
) -> None:
    async with http(server.http) as client:
        made = await client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url(), **body},
            headers=ncb(world).headers,
        )
        assert made.status_code == 422, made.text
        endpoint = await create(client, ncb(world), receiver.url())
        patch = {k: v for k, v in body.items() if k not in ("scheme", "secret")} or {"id": 1}
        changed_ = await client.patch(
            f"/v1/webhook-endpoints/{endpoint['id']}", json=patch, headers=ncb(world).headers
        )
        assert changed_.status_code == 422, changed_.text
        recovered = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/recover",
            json={"since": "2026-01-01T00:00:00"},
            headers=ncb(world).headers,
        )
        assert recovered.status_code == 422
        assert "since" in recovered.text


async def test_another_agency_never_sees_an_endpoint(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        base = f"/v1/webhook-endpoints/{endpoint['id']}"
        for other in (world.unit("DE"), world("FR", Role.NCB), world.gs, world.desk("DE")):
            for method, path, body in (
                ("GET", base, None),
                ("PATCH", base, {"description": "mine now"}),
                ("POST", f"{base}/rotate-secret", None),
                ("GET", f"{base}/messages", None),
                ("POST", f"{base}/recover", {"since": "2026-01-01T00:00:00Z"}),
                ("DELETE", base, None),
            ):
                response = await client.request(method, path, json=body, headers=other.headers)
                assert response.status_code == 404, (other.role, method, path, response.text)
            listed = await client.get("/v1/webhook-endpoints", headers=other.headers)
            assert endpoint["id"] not in {item["id"] for item in listed.json()["items"]}
        mine = await client.get("/v1/webhook-endpoints", headers=ncb(world).headers)
        assert [item["id"] for item in mine.json()["items"]] == [endpoint["id"]]

    async def probes_recorded() -> bool:
        found = await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action = 'access.refused' "
            "AND object_type = 'webhook_endpoint' AND object_id = $1 AND 'DE' = ANY(countries)",
            endpoint["id"],
        )
        return bool(found)

    await eventually(probes_recorded, within=10)


async def test_every_change_is_audited(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    party = ncb(world)
    async with http(server.http) as client:
        endpoint = await create(client, party, receiver.url())
        base = f"/v1/webhook-endpoints/{endpoint['id']}"
        await client.patch(base, json={"enabled": False}, headers=party.headers)
        await client.post(f"{base}/rotate-secret", json={"scheme": "v1a"}, headers=party.headers)
        await client.delete(base, headers=party.headers)
        gone = await client.get(base, headers=party.headers)
        assert gone.status_code == 404
    rows = await db.fetch(
        "SELECT action, actor_principal_id, details::text AS details FROM audit_entries "
        "WHERE object_id = $1 AND action LIKE 'webhook_endpoint.%' ORDER BY id",
        endpoint["id"],
    )
    assert [r["action"] for r in rows] == [
        "webhook_endpoint.created",
        "webhook_endpoint.changed",
        "webhook_endpoint.rotated",
        "webhook_endpoint.deleted",
    ]
    assert {r["actor_principal_id"] for r in rows} == {party.principal_id}
    assert not any("whsec_" in r["details"] or "whsk_" in r["details"] for r in rows)


async def test_the_global_desk_hears_every_desk(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, world.gs, receiver.url())
        assert endpoint["channels"] == ["global", "desk:*"]
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"), target="JP")
        await eventually(lambda: _true(receiver.accepted()), within=20)


def test_a_v1a_signature_is_refused_under_another_key() -> None:
    from app.outbound.signatures import new_signing_key, signature_headers

    private, _ = new_signing_key()
    _, other_public = new_signing_key()
    headers = signature_headers("msg_1", 1_700_000_000, b"{}", [private])
    assert not verifies(other_public, headers, b"{}")


def test_the_openapi_document_lists_the_event_catalogue() -> None:
    from app.main import create_app
    from app.webhooks.catalogue import EVENTS

    document = create_app("postgresql://unused/unused").openapi()
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == set(EVENTS)
    operation = document["webhooks"]["request.assigned"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/WebhookBody"}


async def test_the_sending_agency_hears_what_the_other_side_does(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        endpoint = await create(client, unit, receiver.url(), event_types=["request.acknowledged"])
        assert f"agency:{unit.agency_id}" in endpoint["channels"]
        receiver.keys = [endpoint["secret"]]
        request = await submit_request(client, unit)
        acked = await client.post(
            f"/v1/requests/{request['id']}/actions/acknowledge", headers=world.desk("DE").headers
        )
        assert acked.status_code == 200, acked.text
        await eventually(lambda: _true(receiver.accepted()), within=20)
    got = receiver.accepted()[0].body
    assert got["type"] == "request.acknowledged"
    assert got["data"]["request_id"] == request["id"]
    assert got["data"]["status"] == "acknowledged"


def test_the_catalogue_names_every_event_a_request_action_publishes() -> None:
    from app.requests.lifecycle import EFFECTS
    from app.webhooks.catalogue import EVENTS

    assert {effects.event for effects in EFFECTS.values()} <= set(EVENTS)


async def test_the_log_keeps_the_start_of_a_long_answer_only(
    server: RunningServer, world: World, receiver: WebhookReceiver
) -> None:
    receiver.answers.append(Answer(500, body="x" * 50_000))
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        await submit_request(client, world.unit("FR"))
        messages = await until_attempts(client, ncb(world), endpoint["id"], 1)
    attempt = messages[0]["attempts"][0]
    assert attempt["status_code"] == 500
    assert attempt["response"] == "x" * 1024


async def test_once_the_overlap_ends_only_the_new_secret_signs(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        rotated = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=ncb(world).headers
        )
        new = rotated.json()["secret"]
        await db.execute(
            "UPDATE webhook_endpoints SET previous_secret_until = now() WHERE id = $1",
            uuid.UUID(endpoint["id"]),
        )
        receiver.keys = [endpoint["secret"], new]
        await submit_request(client, world.unit("FR"))
        await eventually(lambda: _true(receiver.accepted()), within=20)
    got = receiver.accepted()[0]
    assert got.verified_by == [new]
    assert len(got.signatures) == 1


async def test_a_disabled_endpoint_is_sent_nothing_until_enabled(
    server: RunningServer, world: World, receiver: WebhookReceiver, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        endpoint = await create(client, ncb(world), receiver.url())
        receiver.keys = [endpoint["secret"]]
        base = f"/v1/webhook-endpoints/{endpoint['id']}"
        off = await client.patch(base, json={"enabled": False}, headers=ncb(world).headers)
        assert off.json()["enabled"] is False
        await submit_request(client, world.unit("FR"))
        assert await log(client, ncb(world), endpoint["id"]) == []
        refused = await client.post(
            f"{base}/recover", json={"since": "2026-01-01T00:00:00Z"}, headers=ncb(world).headers
        )
        assert refused.status_code == 409
        on = await client.patch(base, json={"enabled": True}, headers=ncb(world).headers)
        assert on.json()["enabled"] is True
        await submit_request(client, world.unit("FR"))
        await eventually(lambda: _true(receiver.accepted()), within=20)
    assert len(receiver.received) == 1


async def test_the_disabling_notice_reaches_the_agencys_people_by_mail(
    database_url: str,
    settings: Settings,
    world: World,
    receiver: WebhookReceiver,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    await _verified_contact(db, ncb(world).principal_id)
    receiver.answers.append(Answer(410))
    with smtp_server(tmp_path) as smtp:
        mailing = changed(
            settings,
            outbox={**LOOPBACK, **smtp.settings(), "public_url": "https://relay247.example"},
        )
        async with running_server(database_url, mailing) as server, http(server.http) as client:
            endpoint = await create(client, ncb(world), receiver.url())
            receiver.keys = [endpoint["secret"]]
            await submit_request(client, world.unit("FR"))

            async def noticed() -> bool:
                return any(
                    "webhook endpoint" in str(m["Subject"])
                    for m in smtp.mailbox.to("ncb-de@example.org")
                )

            await eventually(noticed, within=20)
    mail = next(m for m in smtp.mailbox.to("ncb-de@example.org") if "webhook" in str(m["Subject"]))
    assert mail["Subject"] == "[relay247] Your agency's webhook endpoint was disabled"
    body = mail.get_content()
    assert endpoint["id"] in body
    assert "410 Gone" in body
    assert f"https://relay247.example/v1/webhook-endpoints/{endpoint['id']}" in body


def test_the_notice_reads_the_same_on_every_channel() -> None:
    from app.webhooks import notices

    payload = {"endpoint_id": "e1", "reason": "the endpoint answered 410 Gone"}
    notice = notices.notice(payload, "https://relay247.example/")
    assert notice.endpoint_url == "https://relay247.example/v1/webhook-endpoints/e1"
    pushed = notice.push("m1")
    assert (pushed["kind"], pushed["id"], pushed["tag"]) == ("notice", "m1", "webhook:e1")
    assert "410 Gone" in pushed["body"]
    assert notice.as_json()["reason"] == "webhook.disabled"
    assert "410 Gone" in notice.lines()[0]
