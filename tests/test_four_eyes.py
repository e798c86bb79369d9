"""Four-eyes for emergency disclosure, over a real server: a held request reaches nobody at
the target until a second officer approves it, then arrives marked approved; its sender may
not approve it, nor may anyone outside its agency and its NCB; a refusal ends it with its
reason; other requests are sent as before."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from app.core.database import Database
from app.core.settings import Settings
from app.models.enums import Role
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer, changed
from tests.factories import World, end_agreements
from tests.four_eyes import (
    country_policy,
    decisions,
    emergency_body,
    hold,
    second_officer,
    sent_at_all,
)
from tests.test_alert_fanout import reachable


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The alerts stay in the outbox as written, for the test to read.
    return changed(settings, outbox={"outbox_sender": False})


async def alerted(db: asyncpg.Connection, approval_id: str) -> set[tuple[uuid.UUID, str]]:
    rows = await db.fetch(
        "SELECT principal_id, payload FROM outbox_messages WHERE request_id = $1 "
        "AND route = 'email' AND event_type LIKE 'approval.%'",
        uuid.UUID(approval_id),
    )
    return {(row["principal_id"], json.loads(row["payload"])["alert"]["reason"]) for row in rows}


async def test_a_held_request_reaches_the_target_only_once_approved_and_marked_so(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    requester, ncb = world.unit("FR"), world("FR", Role.NCB)
    approver = await second_officer(database, world)
    for party in (requester, approver, ncb):
        await reachable(db, party)
    target_desk = await Dashboard.open(server.ws, world.desk("DE"))
    sending_ncb = await Dashboard.open(server.ws, ncb)
    # Nothing of a held request is for a desk: not the sending country's, not the global one.
    bystanders = [
        await Dashboard.open(server.ws, world.desk("FR")),
        await Dashboard.open(server.ws, world.gs),
    ]
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, requester)
        assert held["required_by"] == "country_policy"
        assert held["may_decide"] is False  # its own sender

        # Held: nothing of it exists on the target's side, and nothing is pushed there.
        await target_desk.assert_silent()
        for bystander in bystanders:
            await bystander.assert_silent(0.1)  # the target's wait covered delivery
            await bystander.close()
        assert await sent_at_all(db, held["id"]) == {
            "requests": 0,
            "deadlines": 0,
            "request_events": 0,
        }
        seen = await client.get(f"/v1/requests/{held['id']}", headers=world.desk("DE").headers)
        assert seen.status_code == 404
        # The NCB hears it waits, and the approvers (never its sender) are alerted.
        told = await sending_ncb.receive_event("approval.requested")
        assert told["data"]["approval_id"] == held["id"]
        assert "subject" not in told["data"]
        assert await alerted(db, held["id"]) == {
            (approver.principal_id, "approval_needed"),
            (ncb.principal_id, "approval_needed"),
        }
        # Each approver finds it in its list, and reads it before deciding.
        for party in (approver, ncb):
            listed = await client.get(
                "/v1/approvals", params={"status": "awaiting_approval"}, headers=party.headers
            )
            assert [item["id"] for item in listed.json()["items"]] == [held["id"]]
            assert listed.json()["items"][0]["may_decide"] is True
        read = await client.get(f"/v1/approvals/{held['id']}", headers=approver.headers)
        assert read.json()["content"]["subject"] == emergency_body()["subject"]

        approved = await client.post(
            f"/v1/approvals/{held['id']}/approve",
            json={"reason": "Checked against the case file"},
            headers=approver.headers,
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert approved.json()["request_id"] == held["id"]
        assert approved.json()["decided_role"] == "unit"

        # Decided: the approvers' alerts not yet sent are cancelled (the outbox's sender is
        # off here: all of them), and none of the target's is.
        statuses = await db.fetch(
            "SELECT payload->'alert'->>'reason' AS reason, status FROM outbox_messages "
            "WHERE request_id = $1 AND route = 'email'",
            uuid.UUID(held["id"]),
        )
        assert {(row["reason"], row["status"]) for row in statuses} == {
            ("approval_needed", "cancelled")
        }
        # Now it arrives, as an ordinary submission would, carrying the approval.
        arrived = await target_desk.receive_event("request.assigned")
        assert arrived["data"]["request_id"] == held["id"]
        assert arrived["data"]["approved_by_role"] == "unit"
        assert arrived["data"]["approved_at"] is not None
        request = (
            await client.get(f"/v1/requests/{held['id']}", headers=world.desk("DE").headers)
        ).json()
        assert request["approved_by_role"] == "unit"
        assert request["requesting_agency_id"] == str(requester.agency_id)
        assert request["status"] == "submitted"
        assert request["ack_due_at"] is not None
        assert (await sent_at_all(db, held["id"]))["deadlines"] > 0
        # Decided: the content is no longer kept with the approval, nor shown there.
        again = await client.get(f"/v1/approvals/{held['id']}", headers=ncb.headers)
        assert again.json()["content"] is None
        assert await db.fetchval(
            "SELECT draft IS NULL FROM approvals WHERE id = $1", uuid.UUID(held["id"])
        )
    await target_desk.close()
    await sending_ncb.close()
    # Every step is in the trail: held, read, approved, then the request's own submission
    # (and the target's look while it was held, refused as for any request it may not see).
    actions = await db.fetch(
        "SELECT action, actor_principal_id FROM audit_entries WHERE object_id = $1 "
        "AND action <> 'access.refused' ORDER BY id",
        held["id"],
    )
    assert [row["action"] for row in actions] == [
        "approval.requested",
        "approval.read",
        "approval.approved",
        "request.submitted",
        "request.read",  # the target desk's read, once it arrived
    ]
    assert actions[2]["actor_principal_id"] == approver.principal_id
    assert actions[3]["actor_principal_id"] == requester.principal_id


async def test_the_sender_may_not_approve_its_own_and_the_ncb_may(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    requester, ncb = world.unit("FR"), world("FR", Role.NCB)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, requester)
        own = await client.post(f"/v1/approvals/{held['id']}/approve", headers=requester.headers)
        assert own.status_code == 403
        assert own.headers["content-type"] == "application/problem+json"
        assert "second officer" in own.json()["detail"]
        refused_own = await client.post(
            f"/v1/approvals/{held['id']}/refuse",
            json={"reason": "changed my mind"},
            headers=requester.headers,
        )
        assert refused_own.status_code == 403
        by_ncb = await client.post(f"/v1/approvals/{held['id']}/approve", headers=ncb.headers)
        assert by_ncb.status_code == 200, by_ncb.text
        request = (
            await client.get(f"/v1/requests/{held['id']}", headers=world.desk("DE").headers)
        ).json()
        assert request["approved_by_role"] == "ncb"
    assert await decisions(db, held["id"]) == ["approval.approved"]


@pytest.mark.parametrize(
    ("who", "country", "role"),
    [
        ("other unit", "JP", Role.UNIT),
        ("other NCB", "JP", Role.NCB),
        ("target desk", "DE", Role.CONTACT_POINT),
        ("target NCB", "DE", Role.NCB),
        ("sender's desk", "FR", Role.CONTACT_POINT),
    ],
    ids=["other-unit", "other-ncb", "target-desk", "target-ncb", "senders-desk"],
)
async def test_nobody_outside_the_sending_agency_and_its_ncb_sees_or_decides_it(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    who: str,
    country: str,
    role: Role,
) -> None:
    outsider = world(country, role)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, world.unit("FR"))
        path = f"/v1/approvals/{held['id']}"
        for method, suffix, body in (
            ("GET", "", None),
            ("POST", "/approve", None),
            ("POST", "/refuse", {"reason": "no"}),
            ("POST", "/cancel", None),
        ):
            answer = await client.request(
                method, path + suffix, json=body, headers=outsider.headers
            )
            assert answer.status_code == 404, (who, suffix, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        listed = await client.get("/v1/approvals", headers=outsider.headers)
        assert listed.status_code in (200, 403)
        if listed.status_code == 200:
            assert listed.json()["items"] == []
    assert await decisions(db, held["id"]) == []
    assert await db.fetchval(
        "SELECT status FROM approvals WHERE id = $1", uuid.UUID(held["id"])
    ) == ("awaiting_approval")


async def test_a_refusal_ends_it_with_the_reason_its_sender_reads(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    requester = world.unit("FR")
    approver = await second_officer(database, world)
    await reachable(db, requester)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, requester)
        refused = await client.post(
            f"/v1/approvals/{held['id']}/refuse",
            json={"reason": "The provider is not in Germany"},
            headers=approver.headers,
        )
        assert refused.status_code == 200, refused.text
        seen = (await client.get(f"/v1/approvals/{held['id']}", headers=requester.headers)).json()
        assert seen["status"] == "refused"
        assert seen["reason"] == "The provider is not in Germany"
        assert seen["content"] is None
        assert seen["decided_by"] == str(approver.principal_id)
        late = await client.post(f"/v1/approvals/{held['id']}/approve", headers=approver.headers)
        assert late.status_code == 409
        assert "already refused" in late.json()["detail"]
    assert await sent_at_all(db, held["id"]) == {"requests": 0, "deadlines": 0, "request_events": 0}
    assert (requester.principal_id, "approval_refused") in await alerted(db, held["id"])
    # The reason's words stay out of the trail: its hash is there.
    details = await db.fetchval(
        "SELECT details FROM audit_entries WHERE action = 'approval.refused' AND object_id = $1",
        held["id"],
    )
    assert "provider" not in details
    assert "reason_hash" in json.loads(details)


async def test_an_agreement_asks_for_it_and_other_requests_are_sent_at_once(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    requester, ncb = world.unit("FR"), world("FR", Role.NCB)
    async with http(server.http) as client:
        agreement = (
            await client.get(
                "/v1/agreements",
                params={"agency_id": str(requester.agency_id)},
                headers=ncb.headers,
            )
        ).json()["items"][0]
        assert agreement["four_eyes"] is False
        changed_ = await client.patch(
            f"/v1/agreements/{agreement['id']}", json={"four_eyes": True}, headers=ncb.headers
        )
        assert changed_.status_code == 200, changed_.text
        held = await hold(client, requester)
        assert held["required_by"] == "agreement"
        # Any other type is sent at once, as before.
        sent = await submit_request(client, requester, type="preservation")
        assert sent["approved_at"] is None
        # Another country's unit, without four-eyes, sends its emergency disclosure at once.
        other = await client.post(
            "/v1/requests", json=emergency_body("FR"), headers=world.unit("JP").headers
        )
        assert other.status_code == 201, other.text


async def test_a_replayed_held_submission_is_answered_with_the_same_approval(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    requester = world.unit("FR")
    headers = {**requester.headers, "Idempotency-Key": "four-eyes-1"}
    async with http(server.http) as client:
        await country_policy(client, world)
        first = await client.post("/v1/requests", json=emergency_body(), headers=headers)
        again = await client.post("/v1/requests", json=emergency_body(), headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM approvals") == 1


async def test_an_approval_checks_the_senders_agreements_again(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    """Sent as a submit would send it: an agreement ended while it waited refuses it, and it
    stays held (to be refused, or to expire)."""
    approver = await second_officer(database, world)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, world.unit("FR"))
        await end_agreements(database, world.unit("FR"))
        answer = await client.post(f"/v1/approvals/{held['id']}/approve", headers=approver.headers)
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "access agreements" in answer.json()["detail"]
        seen = (await client.get(f"/v1/approvals/{held['id']}", headers=approver.headers)).json()
    assert seen["status"] == "awaiting_approval"
    assert seen["content"] is not None
    assert await decisions(db, held["id"]) == []
    assert (await sent_at_all(db, held["id"]))["requests"] == 0
