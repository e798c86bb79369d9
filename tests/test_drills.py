"""Readiness drills with real servers: a drill scheduled by the global desk is sent when its
time comes (driven by the test) through the normal routing, pushed over a real WebSocket
marked as a drill, acknowledged as any request is, and its measured time recorded; one nobody
acknowledges escalates to overdue and the global desk is told the drill failed; drills stay
out of what a country lists as sent and out of real counts (``drill_id``)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from app.alerts import push_payloads, wording
from app.core.service_secret import ServiceSecret
from app.core.settings import OutboxSettings
from app.models import Route
from app.models.enums import Role
from app.outbox.couriers import Leased
from tests.clients import Dashboard, http
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, fire_next
from tests.drills import bring_due, drill, request_of, scheduled
from tests.factories import World
from tests.scrape import scrape, value
from tests.test_escalation import use_policy


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_a_drill_is_sent_when_due_marked_on_the_socket_and_its_ack_is_measured(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk_party, ncb_party = world.desk("DE"), world("DE", Role.NCB)
    desk = await Dashboard.open(server.ws, desk_party)
    async with http(server.http) as client:
        (drill_id,) = await scheduled(client, world.gs, "DE")
        before = await drill(client, world.gs, drill_id)
        assert before["status"] == "scheduled"
        assert before["request_id"] is None
        # The drilled country does not see a drill coming that it did not schedule.
        hidden = await client.get(f"/v1/drills/{drill_id}", headers=ncb_party.headers)
        assert hidden.status_code == 404
        await desk.assert_silent()

        await bring_due(db, drill_id)
        assigned = await desk.receive_event("request.assigned")
        request_id = await request_of(db, drill_id)
        assert assigned["data"]["request_id"] == request_id
        assert assigned["data"]["drill_id"] == drill_id
        assert assigned["data"]["headline"].startswith("DRILL")
        assert "subject" not in assigned["data"]

        # A screen confirms it, then a person acknowledges it: as for any request.
        await desk.send({"type": "received", "request_id": request_id})
        frames = {(frame := await desk.receive())["type"]: frame for _ in range(2)}
        assert frames["event"]["data"]["drill_id"] == drill_id
        await desk.send({"type": "ack", "request_id": request_id})
        result = await desk.receive()
        assert result["type"] == "ack_result", result
        acknowledged = await desk.receive_event("request.acknowledged")
        assert acknowledged["data"]["drill_id"] == drill_id

        shown = (await client.get(f"/v1/requests/{request_id}", headers=desk_party.headers)).json()
        assert shown["drill_id"] == drill_id
        assert shown["content"]["subject"] == "DRILL"
        assert shown["content"]["identifiers"] == []
        result_now = await drill(client, ncb_party, drill_id)
        results = await client.get("/v1/drills/results", headers=world.gs.headers)
        metrics = await scrape(client)
    await desk.close()

    assert result_now["status"] == "acknowledged"
    assert result_now["request_id"] == request_id
    assert result_now["acknowledged_by"] == str(desk_party.principal_id)
    measured = when(shown["acknowledged_at"]) - when(shown["delivered_at"])
    assert result_now["seconds_to_acknowledge"] == pytest.approx(measured.total_seconds())
    assert results.status_code == 200, results.text
    (desk_result,) = results.json()["items"]
    assert desk_result["country"] == "DE"
    assert (desk_result["sent"], desk_result["acknowledged"], desk_result["failed"]) == (1, 1, 0)
    assert desk_result["median_seconds_to_acknowledge"] == pytest.approx(
        measured.total_seconds(), abs=1e-3
    )
    # Sent once, by the service on the global desk's behalf, and audited as a submission.
    audited = await db.fetch(
        "SELECT actor_principal_id, details FROM audit_entries "
        "WHERE object_id = $1 AND action = 'request.submitted'",
        request_id,
    )
    assert len(audited) == 1
    assert audited[0]["actor_principal_id"] is None
    assert value(metrics, "relay247_drills_sent_total") == 1
    assert value(metrics, "relay247_loop_up", loop="drills.worker") == 1


async def test_every_alert_of_a_drill_says_drill_first(
    server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """The words an e-mail, a gateway and a Web Push say, from the drill's real event."""
    async with http(server.http) as client:
        (drill_id,) = await scheduled(client, world.gs, "JP")
    await bring_due(db, drill_id)
    request_id = await request_of(db, drill_id)
    data = await db.fetchval(
        "SELECT data FROM events WHERE request_id = $1 AND type = 'request.assigned' LIMIT 1",
        uuid.UUID(request_id),
    )
    payload = {**json.loads(data), "alert": {"reason": "assigned"}}
    message = Leased(
        uuid.uuid4(),
        Route.EMAIL,
        uuid.uuid4(),
        "request.assigned",
        uuid.UUID(request_id),
        None,
        payload,
        1,
        datetime.now(UTC),
    )
    secret = ServiceSecret(tmp_path / "secret")
    alert = wording.alert(message, OutboxSettings(), secret)
    assert alert.drill is True
    assert alert.subject.startswith("[relay247] DRILL JP desk")
    assert alert.lines(15)[0].startswith("DRILL.")
    assert alert.as_json()["drill"] is True
    assert alert.ack_url is not None, "a drill is acknowledged from its alert as any request"
    overdue = wording.alert(
        dataclasses.replace(message, payload={**payload, "alert": {"reason": "overdue"}}),
        OutboxSettings(),
        secret,
    )
    assert overdue.headline.startswith("A drill failed")
    push = push_payloads.alert(payload, message_id="m", url="u", ack="a", ack_url=None)
    assert push["title"].startswith("DRILL")
    assert push["drill"] is True
    assert push["body"].startswith(push_payloads.DRILL_LINE)


async def test_an_unacknowledged_drill_escalates_to_overdue_and_the_global_desk_sees_it_fail(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    gs = await Dashboard.open(server.ws, world.gs)
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        (drill_id,) = await scheduled(client, world("DE", Role.NCB), "DE")
        await bring_due(db, drill_id)
        request_id = await request_of(db, drill_id)
        for _ in range(4):  # three escalations, then past the last step
            await fire_next(db, request_id, "ack")
        shown = await drill(client, world.gs, drill_id)
        results = (await client.get("/v1/drills/results", headers=world.gs.headers)).json()
    failed = None
    while failed is None:
        frame = await gs.receive()
        if frame.get("event") == "drill.failed":
            failed = frame
    await gs.close()
    assert failed["channel"] == "global"
    assert failed["data"]["drill_id"] == drill_id
    assert failed["data"]["overdue_at"] is not None
    assert shown["status"] == "failed"
    assert shown["escalation_step"] == 3
    assert results["items"][0]["failed"] == 1
    # Once, however often the global desk is reminded.
    assert (
        await db.fetchval(
            "SELECT count(DISTINCT id) FROM events WHERE type = 'drill.failed' "
            "AND request_id = $1 AND channel = 'global'",
            uuid.UUID(request_id),
        )
        == 1
    )
