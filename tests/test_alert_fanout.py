"""The fan-out: what each event writes into the outbox in its own transaction, whom the
alert rules name, and how an acknowledgement stops the alerts. The sender is off here
(RELAY247_OUTBOX_SENDER=false), so the messages stay as written for the test to read; their
delivery is tested with each route's courier (test_webhooks*, test_alerts_*)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from app.core.settings import Settings
from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World
from tests.test_escalation import use_policy
from tests.waiting import eventually

# What a request's content is made of: none of it may travel in a message.
CONTENT_FIELDS = {"subject", "details", "identifiers", "legal_basis", "reason"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return changed(settings, outbox={"outbox_sender": False})


async def reachable(db: asyncpg.Connection, party: Party, kind: str = "email") -> uuid.UUID:
    """A verified contact method of ``party``."""
    method_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO contact_methods (id, principal_id, kind, address, verified_at) "
        "VALUES ($1, $2, $3, $4, now())",
        method_id,
        party.principal_id,
        kind,
        f"{party.principal_id}@example.org",
    )
    return method_id


async def alerts(db: asyncpg.Connection, request_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT route, destination_id, event_type, principal_id, status, payload "
        "FROM outbox_messages WHERE request_id = $1 AND route <> 'webhook' "
        "ORDER BY created_at, event_type",
        uuid.UUID(request_id),
    )
    return [dict(row) for row in rows]


def reason(message: dict[str, Any]) -> str:
    payload = message["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert not CONTENT_FIELDS & payload.keys(), payload.keys()
    return str(payload["alert"]["reason"])


async def test_an_arrival_alerts_its_assignee_on_every_verified_method_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    email = await reachable(db, desk)
    push = await reachable(db, desk, "web_push")
    # Not verified yet: never alerted.
    await db.execute(
        "INSERT INTO contact_methods (id, principal_id, kind, address) "
        "VALUES ($1, $2, 'email', 'x@example.org')",
        uuid.uuid4(),
        desk.principal_id,
    )
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]
    written = await alerts(db, request_id)
    assert {(m["route"], m["destination_id"]) for m in written} == {
        ("email", email),
        ("web_push", push),
    }
    assert {reason(m) for m in written} == {"assigned"}
    assert {m["principal_id"] for m in written} == {desk.principal_id}


async def test_an_acknowledgement_cancels_unsent_alerts_and_the_repeats(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    await reachable(db, desk)
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=desk.headers)
        assert acked.status_code == 200, acked.text
    assert [m["status"] for m in await alerts(db, request_id)] == ["cancelled"]
    repeats = await db.fetchval(
        "SELECT count(*) FROM request_deadlines WHERE request_id = $1 AND kind = 'alert_repeat' "
        "AND fired_at IS NULL AND cancelled_at IS NULL",
        uuid.UUID(request_id),
    )
    assert repeats == 0


async def test_a_device_that_showed_an_alert_is_told_to_withdraw_it(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    push = await reachable(db, desk, "web_push")
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        # As the sender leaves it once the push service took it.
        await db.execute(
            "UPDATE outbox_messages SET status = 'sent' WHERE request_id = $1",
            uuid.UUID(request_id),
        )
        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=desk.headers)
        assert acked.status_code == 200, acked.text
        # A later change of the request withdraws nothing twice.
        started = await client.post(
            f"/v1/requests/{request_id}/actions/start", headers=desk.headers
        )
        assert started.status_code == 200, started.text
    withdrawn = [m for m in await alerts(db, request_id) if m["event_type"] == "alert.withdrawn"]
    assert [(m["destination_id"], m["status"]) for m in withdrawn] == [(push, "pending")]


async def test_unacknowledged_the_holder_is_alerted_again_and_each_step_reaches_its_people(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk, ncb, gs = world.desk("DE"), world("DE", Role.NCB), world.gs
    for party in (desk, ncb, gs, world("FR", Role.NCB)):
        await reachable(db, party)

    async def reasons() -> list[tuple[str, uuid.UUID]]:
        return [(reason(m), m["principal_id"]) for m in await alerts(db, request_id)]

    async def then(kind: str, *added: tuple[str, uuid.UUID]) -> None:
        before = await reasons()
        await bring_due(db, request_id, kind)
        expected = sorted([*before, *added], key=str)
        await eventually(lambda: _sorted(reasons, expected))

    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        request_id = (await submit_request(client, world.unit("FR")))["id"]
    # Nobody on duty: DE's desk as a whole holds it, its contact points and its NCB.
    assert sorted(await reasons(), key=str) == sorted(
        [("assigned", desk.principal_id), ("assigned", ncb.principal_id)], key=str
    )
    await then("alert_repeat", ("repeat", desk.principal_id), ("repeat", ncb.principal_id))
    # Step 1: no backup on duty, so DE's desk as a whole: its contact points and its NCB.
    await then("ack", ("escalated", desk.principal_id), ("escalated", ncb.principal_id))
    await then("ack", ("escalated", ncb.principal_id))  # step 2: the NCB
    await then("alert_repeat", ("repeat", ncb.principal_id))
    await then("ack", ("escalated", gs.principal_id))  # step 3: the global desk
    # Overdue: the global desk and the NCB; the repeats stop, the reminders take over.
    await then("ack", ("overdue", gs.principal_id), ("overdue", ncb.principal_id))
    await then("alert_repeat")
    await then("reminder", ("reminder", gs.principal_id), ("reminder", ncb.principal_id))


async def _sorted(reasons: Any, expected: list[tuple[str, uuid.UUID]]) -> bool:
    return sorted(await reasons(), key=str) == expected
