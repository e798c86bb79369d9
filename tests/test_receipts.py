"""Delivery receipts: a dashboard's `received` frame moves a request from submitted to
delivered once, pushed to the requester with the time; later receipts change nothing; the
other side and other countries are refused; and a socket's welcome lists what no screen has
confirmed yet, for a dashboard that was offline when it was pushed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests import audit_trail
from tests.audit_trail import entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World, make_contact_point, make_rotation


async def submit(server: RunningServer, world: World, **overrides: Any) -> str:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", **overrides)
    request_id: str = created["id"]
    return request_id


async def written(db: asyncpg.Connection, request_id: str) -> dict[str, Any]:
    """The request's row and what has been written about it, counted."""
    return await audit_trail.footprint(
        db,
        request_id,
        "status",
        "version",
        "delivered_at",
        "delivered_by",
        "acknowledged_at",
        "updated_at",
    )


async def answer(dashboard: Dashboard) -> dict[str, Any]:
    """The next frame that is not an event: pushes and answers interleave on one socket."""
    while (frame := await dashboard.receive())["type"] == "event":
        pass
    return frame


async def receipt(dashboard: Dashboard, request_id: str) -> dict[str, Any]:
    await dashboard.send({"type": "received", "request_id": request_id})
    return await answer(dashboard)


async def get(client: httpx.AsyncClient, party: Party, request_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/requests/{request_id}", headers=party.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_the_first_receipt_delivers_it_and_the_requester_hears_when(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    requester = await Dashboard.open(server.ws, world.unit("FR"))
    request_id = await submit(server, world)
    await desk.receive_event("request.assigned")
    before = await written(db, request_id)

    await desk.send({"type": "received", "request_id": request_id})
    # The answer and the desk's own copy of the push, in either order.
    frames = {(frame := await desk.receive())["type"]: frame for _ in range(2)}
    result = frames["received_result"]
    # The desk learns it too: the other screens stop showing it as unconfirmed.
    assert frames["event"]["event"] == "request.delivered"
    assert frames["event"]["data"]["request_id"] == request_id

    assert result["type"] == "received_result", result
    assert result["request_id"] == request_id
    assert result["status"] == "delivered"
    assert result["already_received"] is False
    assert result["delivered_by"] == str(world.desk("DE").principal_id)
    after = await written(db, request_id)
    assert after["delivered_at"] == instant(result["delivered_at"])
    assert after["delivered_at"] >= before["updated_at"], "the database's clock, after submit"
    assert (after["status"], after["version"]) == ("delivered", before["version"] + 1)
    # One event, on both sides' channels (the sender's agency, the target desk).
    assert {k: after[k] - before[k] for k in ("transitions", "audit", "events")} == {
        "transitions": 1,
        "audit": 1,
        "events": 2,
    }

    delivered = await requester.receive_event("request.delivered")
    assert delivered["channel"] == f"agency:{world.unit('FR').agency_id}"
    assert delivered["data"]["request_id"] == request_id
    assert delivered["data"]["status"] == "delivered"
    assert instant(delivered["data"]["delivered_at"]) == after["delivered_at"]
    assert delivered["data"]["delivered_by"] == str(world.desk("DE").principal_id)
    assert "subject" not in delivered["data"], "pushes carry metadata, never content"

    (entry,) = await entries(database, "request.delivered", object_id=request_id)
    assert entry.actor_principal_id == world.desk("DE").principal_id
    assert entry.details == {"from": "submitted", "to": "delivered", "reason_given": False}

    async with http(server.http) as client:
        shown = await get(client, world.unit("FR"), request_id)
        history = await client.get(
            f"/v1/requests/{request_id}/history", headers=world.unit("FR").headers
        )
    assert shown["status"] == "delivered"
    assert instant(shown["delivered_at"]) == after["delivered_at"]
    assert shown["delivered_by"] == str(world.desk("DE").principal_id)
    steps = [
        (item["action"], item["from_status"], item["to_status"], item["side"])
        for item in history.json()["items"]
    ]
    assert steps == [
        (None, None, "submitted", "requester"),
        ("receive", "submitted", "delivered", "target"),
    ]
    assert history.json()["items"][1]["actor_principal_id"] == str(world.desk("DE").principal_id)
    for dashboard in (desk, requester):
        await dashboard.close()


async def test_later_receipts_by_anyone_of_the_desk_change_nothing_and_say_so(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    colleague = await make_contact_point(database, world, "DE", "DE officer on the night shift")
    request_id = await submit(server, world)
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    other = await Dashboard.open(server.ws, colleague)
    requester = await Dashboard.open(server.ws, world.unit("FR"))
    first = await receipt(desk, request_id)
    await requester.receive_event("request.delivered")
    settled = await written(db, request_id)

    for dashboard in (desk, other, desk):
        again = await receipt(dashboard, request_id)
        assert again == {**first, "already_received": True}

    assert await written(db, request_id) == settled
    await requester.assert_silent()
    for dashboard in (desk, other, requester):
        await dashboard.close()


@pytest.mark.parametrize(
    "who",
    ["JP desk", "JP NCB", "FR unit", "FR NCB", "auditor"],
)
async def test_a_receipt_from_anyone_but_the_target_side_is_refused_and_writes_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection, who: str
) -> None:
    parties = {
        "JP desk": (world.desk("JP"), 404),  # another country: the request does not exist
        "JP NCB": (world("JP", Role.NCB), 404),
        "FR unit": (world.unit("FR"), 403),  # the sender: receipts are the target side's
        "FR NCB": (world("FR", Role.NCB), 403),  # sees what its country sent, acts for neither
        "auditor": (world.auditor, 403),
    }
    party, status = parties[who]
    request_id = await submit(server, world)
    before = await written(db, request_id)
    dashboard = await Dashboard.open(server.ws, party)

    await dashboard.send({"type": "received", "request_id": request_id})
    refused = await dashboard.receive()

    assert refused["type"] == "error", refused
    assert (refused["status"], refused["request_id"]) == (status, request_id)
    assert await written(db, request_id) == before
    await dashboard.send({"type": "ping"})
    assert await dashboard.receive() == {"type": "pong"}, "the socket stays"
    await dashboard.close()


async def test_hostile_received_frames_get_error_frames_and_the_socket_stays(
    server: RunningServer, world: World
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    for request_id in ("\u0000", "00000000-0000-0000-0000-000000000000", "x" * 10_000, None, 7):
        await desk.send({"type": "received", "request_id": request_id})
        error = await desk.receive()
        assert error["type"] == "error", error
    await desk.send({"type": "received", "request_id": "00000000-0000-0000-0000-000000000000"})
    assert (await desk.receive())["status"] == 404
    await desk.send({"type": "ping"})
    assert await desk.receive() == {"type": "pong"}
    await desk.close()


async def test_the_rest_action_delivers_once_and_refuses_a_second_like_every_action(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """Decision: POST /actions/receive is a step of the table like any other, so a second one
    is a 409 (the frame, sent by every screen that shows the request, is the idempotent way)."""
    request_id = await submit(server, world)
    url = f"/v1/requests/{request_id}/actions/receive"
    async with http(server.http) as client:
        first = await client.post(url, headers=world("DE", Role.NCB).headers)
        settled = await written(db, request_id)
        second = await client.post(url, headers=world.desk("DE").headers)
        by_sender = await client.post(url, headers=world.unit("FR").headers)
    assert first.status_code == 200, first.text
    assert (first.json()["from_status"], first.json()["status"]) == ("submitted", "delivered")
    assert first.json()["allowed_actions"] == ["acknowledge", "decline"]
    assert settled["delivered_by"] == world("DE", Role.NCB).principal_id
    assert second.status_code == 409, second.text
    assert second.json()["current_status"] == "delivered"
    assert by_sender.status_code == 403, by_sender.text
    assert await written(db, request_id) == settled


async def test_a_receipt_after_an_ack_changes_nothing_and_delivered_at_stays_null(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """Decision: a request acknowledged before any screen confirmed it is not delivered after
    the fact: delivered_at is set only by the receive step, so it never comes after the ack."""
    request_id = await submit(server, world)
    async with http(server.http) as client:
        ack = await client.post(f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers)
    assert ack.status_code == 200, ack.text
    before = await written(db, request_id)
    desk = await Dashboard.open(server.ws, world.desk("DE"))

    late = await receipt(desk, request_id)

    assert late == {
        "type": "received_result",
        "request_id": request_id,
        "status": "acknowledged",
        "delivered_at": None,
        "delivered_by": None,
        "already_received": True,
    }
    assert await written(db, request_id) == before
    await desk.close()


async def test_a_receipt_then_an_ack_keeps_both_times(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    request_id = await submit(server, world)
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    delivered = await receipt(desk, request_id)
    await desk.send({"type": "ack", "request_id": request_id})
    acked = await answer(desk)
    assert acked["type"] == "ack_result", acked
    after = await written(db, request_id)
    assert after["status"] == "acknowledged"
    assert after["delivered_at"] == instant(delivered["delivered_at"]) <= after["acknowledged_at"]
    assert (await receipt(desk, request_id))["already_received"] is True
    await desk.close()


def listed(dashboard: Dashboard) -> list[str]:
    return [item["request_id"] for item in dashboard.welcome["unconfirmed"]]


async def test_the_welcome_lists_what_no_screen_has_confirmed_until_someone_does(
    server: RunningServer, world: World, database: Database
) -> None:
    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    off_duty = await make_contact_point(database, world, "DE", "DE officer off duty")
    # Pushed while nobody of the desk was connected.
    first = await submit(server, world, priority="emergency")
    second = await submit(server, world)
    third = await submit(server, world)
    elsewhere = await submit_to(server, world, "JP")

    assignee = await Dashboard.open(server.ws, world.desk("DE"))
    newest_first = [third, second, first]
    assert listed(assignee) == newest_first
    item = assignee.welcome["unconfirmed"][2]
    assert item["type"] == "preservation"
    assert item["priority"] == "emergency"
    assert item["requesting_country"] == "FR"
    assert item["target_country"] == "DE"
    assert item["assigned_to"] == str(world.desk("DE").principal_id)
    assert instant(item["assigned_at"]) is not None
    assert "subject" not in item, "metadata only"
    # The rest of the desk and whoever follows it see the desk's unconfirmed requests too.
    followers = {
        "off duty": await Dashboard.open(server.ws, off_duty),
        "NCB": await Dashboard.open(server.ws, world("DE", Role.NCB)),
        "global desk": await Dashboard.open(server.ws, world.gs),
    }
    assert listed(followers["off duty"]) == newest_first
    assert listed(followers["NCB"]) == newest_first
    assert listed(followers["global desk"]) == [elsewhere, *newest_first]
    japan = await Dashboard.open(server.ws, world.desk("JP"))
    assert listed(japan) == [elsewhere]
    sender = await Dashboard.open(server.ws, world.unit("FR"))
    assert sender.welcome["unconfirmed"] == []

    assert (await receipt(assignee, second))["already_received"] is False
    async with http(server.http) as client:
        ack = await client.post(f"/v1/requests/{third}/ack", headers=off_duty.headers)
    assert ack.status_code == 200, ack.text

    again = await Dashboard.open(server.ws, world.desk("DE"))
    assert listed(again) == [first]
    ncb_again = await Dashboard.open(server.ws, world("DE", Role.NCB))
    assert listed(ncb_again) == [first]
    for dashboard in (assignee, *followers.values(), japan, sender, again, ncb_again):
        await dashboard.close()


async def test_a_contact_point_is_listed_what_is_assigned_to_it_in_the_desk(
    server: RunningServer, world: World, database: Database
) -> None:
    """Held by the whole desk (nobody on duty) and assigned to one person: both listed, and
    which is whose is in assigned_to."""
    desks_own = await submit(server, world)
    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    assigned = await submit(server, world)
    dashboard = await Dashboard.open(server.ws, world.desk("DE"))
    holders = {item["request_id"]: item["assigned_to"] for item in dashboard.welcome["unconfirmed"]}
    assert holders == {desks_own: None, assigned: str(world.desk("DE").principal_id)}
    await dashboard.close()


async def submit_to(server: RunningServer, world: World, target: str) -> str:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), target)
    request_id: str = created["id"]
    return request_id
