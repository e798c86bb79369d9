"""The legal hold: who may set and lift it, what it writes, and what it refuses."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests.audit_trail import entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World

REASON = "Court order 2026/118 of the Paris tribunal: keep until the trial"


def hold_path(request_id: object) -> str:
    return f"/v1/requests/{request_id}/legal-hold"


async def test_the_sending_countrys_ncb_sets_and_the_global_desk_lifts(
    server: RunningServer, world: World, database: Database
) -> None:
    fr_ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE")
        request_id = created["id"]
        desk = await Dashboard.open(server.ws, world.desk("DE"))
        sender = await Dashboard.open(server.ws, world.unit("FR"))

        response = await client.put(
            hold_path(request_id), json={"reason": REASON}, headers=fr_ncb.headers
        )
        assert response.status_code == 200, response.text
        held = response.json()
        assert held["changed"] is True
        assert held["version"] == created["version"] + 1
        assert held["legal_hold"]["set_by"] == str(fr_ncb.principal_id)
        assert held["legal_hold"]["reason"] == REASON
        for dashboard in (desk, sender):
            event = await dashboard.receive_event("request.updated")
            assert event["data"]["legal_hold"] is True
            assert event["data"]["version"] == held["version"]
            assert REASON not in json.dumps(event)

        shown = (await client.get(f"/v1/requests/{request_id}", headers=fr_ncb.headers)).json()
        assert shown["legal_hold"] == held["legal_hold"]
        assert shown["version"] == held["version"]
        # The reason may name a case: the auditor sees that it is held, not why.
        audited = await client.get(f"/v1/requests/{request_id}", headers=world.auditor.headers)
        assert audited.json()["legal_hold"] == {**held["legal_hold"], "reason": None}

        response = await client.delete(hold_path(request_id), headers=world.gs.headers)
        assert response.status_code == 200, response.text
        lifted = response.json()
        assert lifted == {
            "request_id": request_id,
            "legal_hold": None,
            "version": held["version"] + 1,
            "changed": True,
        }
        for dashboard in (desk, sender):
            event = await dashboard.receive_event("request.updated")
            assert event["data"]["legal_hold"] is False
            await dashboard.close()
        shown = (await client.get(f"/v1/requests/{request_id}", headers=fr_ncb.headers)).json()
        assert shown["legal_hold"] is None

    [set_entry] = await entries(database, "request.legal_hold_set", object_id=request_id)
    assert set_entry.actor_principal_id == fr_ncb.principal_id
    assert set_entry.details == {"has_reason": True}
    assert set_entry.content_hash == created["content_hash"]
    [lift_entry] = await entries(database, "request.legal_hold_lifted", object_id=request_id)
    assert lift_entry.actor_principal_id == world.gs.principal_id
    assert REASON not in json.dumps(lift_entry.details)


async def test_the_global_desk_may_hold_any_request(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("JP"), "FR")
        response = await client.put(
            hold_path(created["id"]), json={"reason": REASON}, headers=world.gs.headers
        )
    assert response.status_code == 200
    assert response.json()["legal_hold"]["set_by"] == str(world.gs.principal_id)


async def test_setting_a_set_hold_or_lifting_a_lifted_one_writes_nothing(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    fr_ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        unchanged = await client.delete(hold_path(request_id), headers=fr_ncb.headers)
        assert unchanged.status_code == 200
        assert unchanged.json() == {
            "request_id": request_id,
            "legal_hold": None,
            "version": 1,
            "changed": False,
        }
        first = await client.put(
            hold_path(request_id), json={"reason": REASON}, headers=fr_ncb.headers
        )
        events_before = await db.fetchval("SELECT count(*) FROM events")
        again = await client.put(
            hold_path(request_id), json={"reason": "another reason"}, headers=world.gs.headers
        )
    assert again.status_code == 200
    assert again.json() == {**first.json(), "changed": False}  # the first reason stays
    assert await db.fetchval("SELECT count(*) FROM events") == events_before
    assert len(await entries(database, "request.legal_hold_set")) == 1
    assert len(await entries(database, "request.legal_hold_lifted")) == 0
    version = await db.fetchval("SELECT version FROM requests WHERE id = $1", uuid.UUID(request_id))
    assert version == 2


REFUSED = {
    "target NCB (DE)": (lambda w: w("DE", Role.NCB), 403),
    "target desk (DE)": (lambda w: w.desk("DE"), 403),
    "sender unit (FR)": (lambda w: w.unit("FR"), 403),
    "auditor": (lambda w: w.auditor, 403),
    "admin": (lambda w: w.admin, 404),
    "other NCB (JP)": (lambda w: w("JP", Role.NCB), 404),
    "other desk (JP)": (lambda w: w.desk("JP"), 404),
    "target country's unit (DE)": (lambda w: w.unit("DE"), 404),
}


@pytest.mark.parametrize("who", list(REFUSED))
async def test_others_may_not_hold(
    server: RunningServer, world: World, db: asyncpg.Connection, who: str
) -> None:
    """Who can see the request but may not hold it gets 403; who cannot see it, 404."""
    pick, status = REFUSED[who]
    caller: Party = pick(world)
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        set_ = await client.put(
            hold_path(request_id), json={"reason": REASON}, headers=caller.headers
        )
        await client.put(hold_path(request_id), json={"reason": REASON}, headers=world.gs.headers)
        lift = await client.delete(hold_path(request_id), headers=caller.headers)
    assert (set_.status_code, lift.status_code) == (status, status)
    for response in (set_, lift):
        assert response.headers["content-type"] == "application/problem+json"
    held_by = await db.fetchval(
        "SELECT legal_hold_by FROM requests WHERE id = $1", uuid.UUID(request_id)
    )
    assert held_by == world.gs.principal_id  # the refused lift left the hold in place


async def test_a_purged_request_has_nothing_left_to_hold(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        await db.execute(
            "UPDATE requests SET subject = NULL, details = NULL, identifiers = NULL, "
            "legal_basis = NULL, closed_at = now(), purged_at = now() WHERE id = $1",
            uuid.UUID(request_id),
        )
        response = await client.put(
            hold_path(request_id), json={"reason": REASON}, headers=world.gs.headers
        )
        lifted = await client.delete(hold_path(request_id), headers=world.gs.headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "purged" in response.json()["detail"]
    assert lifted.status_code == 200
    assert lifted.json()["changed"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "   "},
        {"reason": "x" * 501},
        {"reason": "court\x00order"},
        {"reason": 42},
        {"reason": REASON, "until": "2030-01-01"},
        [],
    ],
)
async def test_a_bad_reason_is_refused_and_changes_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection, body: object
) -> None:
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        response = await client.put(hold_path(request_id), json=body, headers=world.gs.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    held = await db.fetchval(
        "SELECT legal_hold_at FROM requests WHERE id = $1", uuid.UUID(request_id)
    )
    assert held is None


async def test_unknown_or_malformed_request_ids(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        missing = await client.put(
            hold_path(uuid.uuid4()), json={"reason": REASON}, headers=world.gs.headers
        )
        malformed = await client.delete(hold_path("not-a-uuid"), headers=world.gs.headers)
        wrong_type = await client.put(
            hold_path(uuid.uuid4()),
            content=b"reason=x",
            headers={**world.gs.headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
    assert missing.status_code == 404
    assert malformed.status_code == 422
    assert wrong_type.status_code == 422
