"""Actions on a request through the real server: every (state, action) pair for both sides
against the table, the reasons, the reopen window, a purged request, If-Match, and the push
the other side gets."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.models.enums import RequestAction, RequestStatus, Role, Side
from app.requests import lifecycle
from tests import audit_trail
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World

REASON = "The provider keeps no logs older than 90 days"


async def new_request(client: httpx.AsyncClient, world: World, **overrides: Any) -> str:
    created = await submit_request(client, world.unit("FR"), "DE", **overrides)
    return str(created["id"])


async def put_in_state(
    db: asyncpg.Connection,
    request_id: str,
    state: RequestStatus,
    *,
    closed_ago: timedelta = timedelta(0),
) -> None:
    """As if the request had got there: its status, and closed_at when that is final."""
    await db.execute(
        "UPDATE requests SET status = $2, closed_at = CASE WHEN $3 THEN now() - $4::interval END "
        "WHERE id = $1",
        request_id,
        state.value,
        lifecycle.is_final(state),
        closed_ago,
    )


async def act(
    client: httpx.AsyncClient,
    party: Party,
    request_id: str,
    action: RequestAction | str,
    body: Any = None,
    **headers: str,
) -> httpx.Response:
    action_name = action.value if isinstance(action, RequestAction) else action
    return await client.post(
        f"/v1/requests/{request_id}/actions/{action_name}",
        json=body,
        headers={**party.headers, **headers},
    )


async def footprint(db: asyncpg.Connection, request_id: str) -> dict[str, Any]:
    """Everything an action writes, counted."""
    return await audit_trail.footprint(
        db, request_id, "status", "version", "closed_at", "acknowledged_at", "updated_at"
    )


def taken_by(action: RequestAction) -> Side:
    return Side.TARGET if action in lifecycle.actions_of(Side.TARGET) else Side.REQUESTER


@pytest.mark.parametrize("state", list(RequestStatus), ids=str)
async def test_every_action_in_this_state_for_both_sides_follows_the_table(
    server: RunningServer, world: World, db: asyncpg.Connection, state: RequestStatus
) -> None:
    sides = {Side.TARGET: world.desk("DE"), Side.REQUESTER: world.unit("FR")}
    wrong: list[str] = []
    async with http(server.http) as client:
        for action in RequestAction:
            for side, party in sides.items():
                request_id = await new_request(client, world)
                await put_in_state(db, request_id, state)
                before = await footprint(db, request_id)
                response = await act(client, party, request_id, action, {"reason": REASON})
                after = await footprint(db, request_id)
                rule = lifecycle.step(state, action)
                case = f"{state} {action} by {side}"
                if taken_by(action) is not side:
                    expected = 403
                elif rule is None:
                    expected = 409
                else:
                    expected = 200
                if response.status_code != expected:
                    wrong.append(f"{case}: {response.status_code} (expected {expected})")
                    continue
                if expected != 200:
                    if after != before:
                        wrong.append(f"{case}: refused but wrote {before} -> {after}")
                    problem = response.json()
                    if expected == 409 and (
                        problem["current_status"] != state.value
                        or state.value not in problem["detail"]
                        or problem["version"] != before["version"]
                        or problem["allowed_actions"]
                        != [a.value for a in lifecycle.allowed(state, side)]
                    ):
                        wrong.append(f"{case}: 409 without the state: {problem}")
                    continue
                assert rule is not None
                body = response.json()
                moved = (body["from_status"], body["status"], body["version"], body["side"])
                if moved != (state.value, rule.to.value, before["version"] + 1, side.value):
                    wrong.append(f"{case}: answered {body}")
                if response.headers["etag"] != f'"{before["version"] + 1}"':
                    wrong.append(f"{case}: ETag {response.headers['etag']}")
                if body["allowed_actions"] != [a.value for a in lifecycle.allowed(rule.to, side)]:
                    wrong.append(f"{case}: allowed_actions {body['allowed_actions']}")
                if (
                    after["status"] != rule.to.value
                    or after["version"] != before["version"] + 1
                    or (after["closed_at"] is not None) != lifecycle.is_final(rule.to)
                    or after["updated_at"] <= before["updated_at"]
                ):
                    wrong.append(f"{case}: the request is now {after}")
                written = {k: after[k] - before[k] for k in ("transitions", "audit", "events")}
                # One event, on both sides' channels (the sender's agency, the target desk).
                if written != {"transitions": 1, "audit": 1, "events": 2}:
                    wrong.append(f"{case}: wrote {written}")
    assert not wrong, "\n".join(wrong)


async def test_an_action_writes_its_history_row_audit_entry_and_event(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        await put_in_state(db, request_id, RequestStatus.IN_PROGRESS)
        response = await act(
            client, world.desk("DE"), request_id, "request_info", {"reason": REASON}
        )
    assert response.status_code == 200, response.text
    transition = await db.fetchrow(
        "SELECT * FROM request_transitions WHERE request_id = $1 ORDER BY id DESC LIMIT 1",
        request_id,
    )
    assert dict(transition) | {"id": 0, "at": None} == {
        "id": 0,
        "request_id": transition["request_id"],
        "action": "request_info",
        "from_status": "in_progress",
        "to_status": "info_requested",
        "side": "target",
        "actor_principal_id": world.desk("DE").principal_id,
        "actor_agency_id": world.desk("DE").agency_id,
        "reason": REASON,
        "at": None,
    }
    assert transition["at"].isoformat() == response.json()["at"].replace("Z", "+00:00")
    audit = await db.fetchrow(
        "SELECT action, actor_principal_id, details::text AS details FROM audit_entries "
        "WHERE object_id = $1 ORDER BY id DESC LIMIT 1",
        request_id,
    )
    assert audit["action"] == "request.info_requested"
    assert audit["actor_principal_id"] == world.desk("DE").principal_id
    assert json.loads(audit["details"]) == {
        "from": "in_progress",
        "to": "info_requested",
        "reason_given": True,
    }
    events = await db.fetch(
        "SELECT channel, type, data::text AS data FROM events WHERE request_id = $1 "
        "AND type <> 'request.assigned' ORDER BY channel",
        request_id,
    )
    assert [(e["channel"], e["type"]) for e in events] == [
        (f"agency:{world.unit('FR').agency_id}", "request.updated"),
        ("desk:DE", "request.updated"),
    ]
    data = json.loads(events[0]["data"])
    assert (data["status"], data["action"], data["side"]) == (
        "info_requested",
        "request_info",
        "target",
    )
    assert REASON not in events[0]["data"]


@pytest.mark.parametrize(
    "party", ["target NCB (DE)", "global desk"], ids=lambda who: who.replace(" ", "-")
)
async def test_the_target_ncb_and_the_global_desk_act_for_the_target(
    server: RunningServer, world: World, party: str
) -> None:
    acting = world("DE", Role.NCB) if party == "target NCB (DE)" else world.gs
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        for action, status in (("acknowledge", "acknowledged"), ("start", "in_progress")):
            response = await act(client, acting, request_id, action)
            assert response.status_code == 200, response.text
            assert (response.json()["status"], response.json()["side"]) == (status, "target")
        refused = await act(client, acting, request_id, "cancel", {"reason": REASON})
    assert refused.status_code == 403
    assert "requester side" in refused.json()["detail"]


async def test_who_acts_for_neither_side_is_refused_and_who_cannot_see_it_is_told_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        before = await footprint(db, request_id)
        auditor = await act(client, world.auditor, request_id, "acknowledge")
        # The NCB of the sending country sees the request, but acts for neither side.
        sending_ncb = await act(
            client, world("FR", Role.NCB), request_id, "cancel", {"reason": "x"}
        )
        other_desk = await act(client, world.desk("JP"), request_id, "acknowledge")
        other_unit = await act(client, world.unit("JP"), request_id, "cancel", {"reason": "x"})
        after = await footprint(db, request_id)
    assert auditor.status_code == 403
    assert "auditor may not acknowledge" in auditor.json()["detail"]
    assert sending_ncb.status_code == 403
    assert "ncb may not act on a request as its sender" in sending_ncb.json()["detail"]
    assert other_desk.status_code == other_unit.status_code == 404
    assert after == before


@pytest.mark.parametrize(
    ("state", "party", "action"),
    [
        (RequestStatus.ACKNOWLEDGED, "desk", "decline"),
        (RequestStatus.ACKNOWLEDGED, "unit", "cancel"),
        (RequestStatus.IN_PROGRESS, "desk", "request_info"),
        (RequestStatus.RESPONDED, "unit", "reopen"),
        (RequestStatus.CLOSED, "unit", "reopen"),
    ],
)
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (None, "reason: required"),
        ({}, "reason: required"),
        ({"reason": None}, "reason: required"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 2001}, "reason"),
        ({"reason": "no\x00pe"}, "NUL"),
        ({"reason": REASON, "urgent": True}, "urgent"),
        ({"reason": 42}, "reason"),
        ([REASON], "body"),
    ],
    ids=["no-body", "empty", "null", "blank", "2001-chars", "nul", "extra-field", "number", "list"],
)
async def test_a_missing_or_bad_reason_is_a_422_that_writes_nothing(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    state: RequestStatus,
    party: str,
    action: str,
    body: Any,
    problem: str,
) -> None:
    acting = world.desk("DE") if party == "desk" else world.unit("FR")
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        await put_in_state(db, request_id, state)
        before = await footprint(db, request_id)
        response = await act(client, acting, request_id, action, body)
        after = await footprint(db, request_id)
    assert response.status_code == 422, response.text
    assert problem in response.json()["detail"]
    assert after == before


async def test_a_reason_of_2000_characters_is_kept_whole(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    reason = "é" * 2000
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        response = await act(client, world.desk("DE"), request_id, "decline", {"reason": reason})
    assert response.status_code == 200, response.text
    kept = await db.fetchval(
        "SELECT reason FROM request_transitions WHERE request_id = $1 AND action = 'decline'",
        request_id,
    )
    assert kept == reason


async def test_an_unknown_action_is_a_422_naming_the_actions(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        response = await act(client, world.desk("DE"), request_id, "escalate")
        bad_id = await act(client, world.desk("DE"), "not-a-uuid", "start")
    assert response.status_code == 422
    for action in RequestAction:
        assert action.value in response.json()["detail"]
    assert bad_id.status_code == 422
    assert "request_id" in bad_id.json()["detail"]


async def test_a_closed_request_is_reopened_within_the_window_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        recent, old = await new_request(client, world), await new_request(client, world)
        await put_in_state(db, recent, RequestStatus.CLOSED, closed_ago=timedelta(days=29))
        await put_in_state(db, old, RequestStatus.CLOSED, closed_ago=timedelta(days=31))
        before = await footprint(db, old)
        refused = await act(client, world.unit("FR"), old, "reopen", {"reason": REASON})
        after = await footprint(db, old)
        reopened = await act(client, world.unit("FR"), recent, "reopen", {"reason": REASON})
    assert refused.status_code == 409
    assert "may be reopened until" in refused.json()["detail"]
    assert refused.json()["current_status"] == "closed"
    assert refused.json()["allowed_actions"] == []
    assert after == before
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "in_progress"
    assert await db.fetchval("SELECT closed_at FROM requests WHERE id = $1", recent) is None


@pytest.mark.parametrize(
    ("state", "party", "action"),
    [
        (RequestStatus.CLOSED, "unit", "reopen"),
        (RequestStatus.ACKNOWLEDGED, "desk", "start"),
    ],
)
async def test_a_purged_request_takes_no_action(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    state: RequestStatus,
    party: str,
    action: str,
) -> None:
    acting = world.desk("DE") if party == "desk" else world.unit("FR")
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        await put_in_state(db, request_id, state)
        await db.execute("UPDATE requests SET purged_at = now() WHERE id = $1", request_id)
        before = await footprint(db, request_id)
        response = await act(client, acting, request_id, action, {"reason": REASON})
        after = await footprint(db, request_id)
    assert response.status_code == 409
    assert "purged" in response.json()["detail"]
    assert response.json()["allowed_actions"] == []
    assert after == before


async def test_if_match_takes_the_current_version_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        before = await footprint(db, request_id)
        stale = await act(client, desk, request_id, "acknowledge", **{"If-Match": '"0"'})
        garbage = await act(client, desk, request_id, "acknowledge", **{"If-Match": "one"})
        unchanged = await footprint(db, request_id)
        current = await act(client, desk, request_id, "acknowledge", **{"If-Match": '"1"'})
        then = await act(client, desk, request_id, "start", **{"If-Match": current.headers["etag"]})
        read = await client.get(f"/v1/requests/{request_id}", headers=desk.headers)
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"1"'
    assert garbage.status_code == 422
    assert unchanged == before
    assert current.status_code == 200, current.text
    assert current.headers["etag"] == '"2"'
    assert then.status_code == 200, then.text
    assert read.json()["version"] == 3


async def test_the_ack_route_is_the_acknowledge_action_and_stays_idempotent(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        first = await client.post(
            f"/v1/requests/{request_id}/ack", headers=world("DE", Role.NCB).headers
        )
        after_first = await footprint(db, request_id)
        again = await client.post(f"/v1/requests/{request_id}/ack", headers=world.gs.headers)
        # The action itself is not idempotent: acknowledged is no state to acknowledge.
        action = await act(client, world.desk("DE"), request_id, "acknowledge")
        after = await footprint(db, request_id)
    assert first.status_code == again.status_code == 200
    assert again.json()["already_acknowledged"] is True
    assert again.json()["acknowledged_by"] == str(world("DE", Role.NCB).principal_id)
    assert after_first["version"] == 2
    assert after_first["transitions"] == 2
    assert action.status_code == 409
    assert after == after_first


async def test_the_sender_hears_each_change_without_its_reason(
    server: RunningServer, world: World
) -> None:
    requester = await Dashboard.open(server.ws, world.unit("FR"))
    desk = world.desk("DE")
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        await act(client, desk, request_id, "acknowledge")
        acknowledged = await requester.receive_event("request.acknowledged")
        await act(client, desk, request_id, "start")
        started = await requester.receive_event("request.updated")
        secret = "The suspect is a provider's employee"
        response = await act(client, desk, request_id, "decline", {"reason": secret})
        assert response.status_code == 200, response.text
        declined = await requester.receive(5)
    assert acknowledged["data"]["request_id"] == request_id
    assert (acknowledged["data"]["action"], acknowledged["data"]["side"]) == (
        "acknowledge",
        "target",
    )
    assert (started["data"]["status"], started["data"]["action"]) == ("in_progress", "start")
    assert declined["event"] == "request.updated"
    assert declined["data"]["status"] == "declined"
    assert declined["data"]["closed_at"] is not None
    assert secret not in json.dumps(declined)
    assert "reason" not in declined["data"]
    await requester.assert_silent()
    await requester.close()


async def test_the_first_response_is_the_time_kept_for_the_time_to_respond(
    server: RunningServer, world: World
) -> None:
    fr, de = world.unit("FR"), world.desk("DE")
    async with http(server.http) as client:
        request_id = await new_request(client, world)
        for party, action in ((de, "acknowledge"), (de, "respond")):
            assert (await act(client, party, request_id, action)).status_code == 200
        first = (await client.get(f"/v1/requests/{request_id}", headers=fr.headers)).json()
        assert first["responded_at"] is not None
        reopened = await act(client, fr, request_id, "reopen", {"reason": "Only half of it"})
        assert reopened.status_code == 200
        assert (await act(client, de, request_id, "respond")).status_code == 200
        again = (await client.get(f"/v1/requests/{request_id}", headers=fr.headers)).json()
    assert again["responded_at"] == first["responded_at"]
    assert again["status"] == "responded"
