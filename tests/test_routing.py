"""Routing on submit, end to end: a real server, real Postgres, real sockets.

A request goes to the target desk's on-duty primary (their own channel, and the desk's); with
nobody on duty, to the whole desk and its NCB. It is sent only within the sender's access
agreements, carries warnings about how the target can handle its type, and can be handed on.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from app.cli.demo import DEMO_COUNTRIES, seed_demo
from app.core.database import Database
from app.models.enums import Layer, OverrideKind, Role
from app.rosters import store
from app.rosters.routing import on_duty_primary
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import (
    Party,
    World,
    end_agreements,
    make_agreement,
    make_contact_point,
    make_override,
    make_rotation,
    request_body,
)

NOW = datetime.now(UTC)


def channel_of(party: Party) -> str:
    return f"principal:{party.principal_id}"


async def frames(dashboard: Dashboard, count: int) -> dict[str, dict[str, Any]]:
    """The next ``count`` event frames, by channel (channels interleave in any order)."""
    received = [await dashboard.receive_event("request.assigned") for _ in range(count)]
    by_channel = {frame["channel"]: frame for frame in received}
    assert len(by_channel) == count, received
    return by_channel


@pytest.fixture
async def on_duty(database: Database, world: World) -> Party:
    """DE's desk is on duty as primary, every day, from long ago."""
    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    return world.desk("DE")


async def test_the_on_duty_primary_gets_it_on_their_channel_and_the_rest_of_the_desk_on_the_desk(
    server: RunningServer, database: Database, world: World, on_duty: Party
) -> None:
    off_duty = await make_contact_point(database, world, "DE", "DE officer off duty")
    primary = await Dashboard.open(server.ws, on_duty)
    colleague = await Dashboard.open(server.ws, off_duty)
    ncb = await Dashboard.open(server.ws, world("DE", Role.NCB))
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"))
    assert created["assigned_to"] == str(on_duty.principal_id)
    assert created["assignment"] == "on_duty"
    assert created["assigned_at"] == created["created_at"]

    heard = await frames(primary, 2)
    assert set(heard) == {"desk:DE", channel_of(on_duty)}
    data = heard[channel_of(on_duty)]["data"]
    assert data["request_id"] == created["id"]
    assert data["assigned_to"] == str(on_duty.principal_id)
    assert data["assignment"] == "on_duty"
    assert "subject" not in data, "pushes carry no content"
    assert "details" not in data

    assert set(await frames(colleague, 1)) == {"desk:DE"}
    await colleague.assert_silent()
    assert set(await frames(ncb, 1)) == {"desk:DE"}
    for dashboard in (primary, colleague, ncb):
        await dashboard.close()


async def test_nobody_on_duty_the_desk_and_its_ncb_hold_it_and_the_answer_says_so(
    server: RunningServer, world: World
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    ncb = await Dashboard.open(server.ws, world("DE", Role.NCB))
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"))
        fetched = (
            await client.get(f"/v1/requests/{created['id']}", headers=world.desk("DE").headers)
        ).json()
    assert (created["assigned_to"], created["assignment"]) == (None, "desk")
    assert (fetched["assigned_to"], fetched["assignment"]) == (None, "desk")
    for dashboard in (desk, ncb):
        heard = await frames(dashboard, 1)
        assert heard["desk:DE"]["data"]["assignment"] == "desk"
        assert heard["desk:DE"]["data"]["assigned_to"] is None
        await dashboard.assert_silent()
        await dashboard.close()


async def test_a_cover_takes_the_request_and_a_disabled_or_on_leave_primary_leaves_it_to_the_desk(
    server: RunningServer, database: Database, db: asyncpg.Connection, world: World, on_duty: Party
) -> None:
    cover = await make_contact_point(database, world, "DE", "DE officer covering")
    cover_id = await make_override(
        database,
        "DE",
        OverrideKind.COVER,
        cover.principal_id,
        layer=Layer.PRIMARY,
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=1),
    )
    async with http(server.http) as client:
        covered = await submit_request(client, world.unit("FR"))
        await db.execute("UPDATE roster_overrides SET cancelled_at = now() WHERE id = $1", cover_id)
        await make_override(
            database,
            "DE",
            OverrideKind.LEAVE,
            on_duty.principal_id,
            starts_at=NOW - timedelta(hours=1),
            ends_at=NOW + timedelta(hours=1),
        )
        on_leave = await submit_request(client, world.unit("FR"))
        await db.execute("DELETE FROM roster_overrides")
        back = await submit_request(client, world.unit("FR"))
        await db.execute(
            "UPDATE principals SET disabled_at = now() WHERE id = $1", on_duty.principal_id
        )
        disabled = await submit_request(client, world.unit("FR"))
    assert covered["assigned_to"] == str(cover.principal_id)
    assert (on_leave["assigned_to"], on_leave["assignment"]) == (None, "desk")
    assert back["assigned_to"] == str(on_duty.principal_id)
    assert (disabled["assigned_to"], disabled["assignment"]) == (None, "desk")


# --- access agreements ------------------------------------------------------------------------


@pytest.fixture
async def unit(db: asyncpg.Connection, world: World) -> Party:
    """FR's unit, with none of the agreement make_world grants: each test gives its own."""
    await db.execute(
        "DELETE FROM access_agreements WHERE agency_id = $1", world.unit("FR").agency_id
    )
    return world.unit("FR")


async def _refused(client: httpx.AsyncClient, sender: Party, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/requests", json=request_body("DE", **overrides), headers=sender.headers
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["reason"] in problem["detail"]
    return problem


async def _nothing_written(db: asyncpg.Connection) -> None:
    for table in ("requests", "events", "idempotency_keys"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    # The world's directory is audited as it is made; nothing may be about a request.
    about_requests = "SELECT count(*) FROM audit_entries WHERE object_type = 'request'"
    assert await db.fetchval(about_requests) == 0


async def test_within_its_agreement_a_unit_sends_and_outside_it_is_refused_with_the_reason(
    server: RunningServer, database: Database, db: asyncpg.Connection, unit: Party
) -> None:
    await make_agreement(
        database,
        unit,
        request_types=["preservation", "subscriber_info"],
        target_countries=["DE"],
        priorities=["urgent", "emergency"],
    )
    async with http(server.http) as client:
        outside = {
            "type_not_in_scope": {"type": "traffic_data"},
            "priority_not_in_scope": {"priority": "routine"},
        }
        for reason, overrides in outside.items():
            assert (await _refused(client, unit, **overrides))["reason"] == reason
        response = await client.post(
            "/v1/requests",
            json=request_body("JP"),
            headers={**unit.headers, "Idempotency-Key": "k-1"},
        )
        assert response.json()["reason"] == "target_not_in_scope", response.text
        await _nothing_written(db)
        # The refused key was not taken: the same key works once the request is in scope.
        sent = await client.post(
            "/v1/requests",
            json=request_body("DE"),
            headers={**unit.headers, "Idempotency-Key": "k-1"},
        )
        assert sent.status_code == 201, sent.text
        assert await submit_request(client, unit, type="subscriber_info", priority="emergency")


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        ({}, "no_agreement"),
        ({"valid_until": NOW - timedelta(days=1)}, "expired"),
        ({"valid_from": NOW + timedelta(days=1)}, "not_yet_valid"),
        ({"ended_at": NOW - timedelta(minutes=1)}, "ended"),
    ],
    ids=["none", "expired", "not-yet-valid", "ended"],
)
async def test_an_agreement_out_of_time_refuses_with_the_reason(
    server: RunningServer,
    database: Database,
    db: asyncpg.Connection,
    unit: Party,
    terms: dict[str, Any],
    reason: str,
) -> None:
    if terms:
        await make_agreement(database, unit, **terms)
    async with http(server.http) as client:
        assert (await _refused(client, unit))["reason"] == reason
    await _nothing_written(db)


async def test_a_live_agreement_is_named_rather_than_an_ended_one(
    server: RunningServer, database: Database, unit: Party
) -> None:
    await make_agreement(database, unit, ended_at=NOW - timedelta(days=3))
    await make_agreement(database, unit, request_types=["preservation"])
    async with http(server.http) as client:
        assert (await _refused(client, unit, type="traffic_data"))["reason"] == "type_not_in_scope"
        assert (await submit_request(client, unit))["status"] == "submitted"


async def test_ending_an_agreement_stops_new_requests_and_leaves_sent_ones_untouched(
    server: RunningServer, database: Database, world: World
) -> None:
    sender = world.unit("FR")
    async with http(server.http) as client:
        sent = await submit_request(client, sender)
        await end_agreements(database, sender)
        assert (await _refused(client, sender))["reason"] == "ended"
        for reader in (sender, world.desk("DE")):
            again = await client.get(f"/v1/requests/{sent['id']}", headers=reader.headers)
            assert again.status_code == 200
            assert again.json()["status"] == "submitted"
        ack = await client.post(f"/v1/requests/{sent['id']}/ack", headers=world.desk("DE").headers)
    assert ack.status_code == 200


# --- warnings ---------------------------------------------------------------------------------


async def test_warnings_say_how_the_target_handles_the_type_and_a_replay_repeats_them(
    server: RunningServer, db: asyncpg.Connection, world: World
) -> None:
    await db.execute(
        "UPDATE countries SET direct_types = '{preservation,subscriber_info}', "
        "mla_types = '{mutual_assistance}' WHERE code = 'DE'"
    )
    sender = world.unit("FR")
    async with http(server.http) as client:
        direct = await submit_request(client, sender, type="preservation")
        mla_body = request_body("DE", type="mutual_assistance")
        headers = {**sender.headers, "Idempotency-Key": "mla-1"}
        mla = await client.post("/v1/requests", json=mla_body, headers=headers)
        replay = await client.post("/v1/requests", json=mla_body, headers=headers)
        unlisted = await submit_request(client, sender, type="traffic_data")
        to_jp = await submit_request(client, sender, "JP", type="traffic_data")
        fetched = await client.get(f"/v1/requests/{mla.json()['id']}", headers=sender.headers)
    assert direct["warnings"] == []
    [warning] = mla.json()["warnings"]
    assert "Germany (DE)" in warning
    assert "mutual_assistance" in warning
    assert "mutual legal assistance" in warning
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == mla.json()
    [warning] = unlisted["warnings"]
    assert "Germany (DE)" in warning
    assert "traffic_data" in warning
    assert to_jp["warnings"] == [], "a country that lists no types is not warned about"
    assert "warnings" not in fetched.json()


# --- reassignment -----------------------------------------------------------------------------


async def test_the_desk_hands_a_request_on_and_both_people_and_the_desk_are_told(
    server: RunningServer,
    database: Database,
    db: asyncpg.Connection,
    world: World,
    on_duty: Party,
) -> None:
    colleague = await make_contact_point(database, world, "DE", "DE officer 2")
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"))
        first = await Dashboard.open(server.ws, on_duty)
        second = await Dashboard.open(server.ws, colleague)
        ncb = await Dashboard.open(server.ws, world("DE", Role.NCB))
        response = await client.post(
            f"/v1/requests/{created['id']}/assign",
            json={"principal_id": str(colleague.principal_id)},
            headers=world("DE", Role.NCB).headers,
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        again = await client.post(
            f"/v1/requests/{created['id']}/assign",
            json={"principal_id": str(colleague.principal_id)},
            headers=on_duty.headers,
        )
        fetched = (
            await client.get(f"/v1/requests/{created['id']}", headers=colleague.headers)
        ).json()
    assert answer["previously_assigned_to"] == str(on_duty.principal_id)
    assert answer["assigned_to"] == str(colleague.principal_id)
    assert answer["assignment"] == "reassigned"
    assert answer["changed"] is True
    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert fetched["assigned_to"] == str(colleague.principal_id)
    assert fetched["assignment"] == "reassigned"
    assert fetched["assigned_at"] == answer["assigned_at"]

    assert set(await frames(first, 2)) == {"desk:DE", channel_of(on_duty)}
    heard = await frames(second, 2)
    assert set(heard) == {"desk:DE", channel_of(colleague)}
    assert heard[channel_of(colleague)]["data"]["assignment"] == "reassigned"
    assert set(await frames(ncb, 1)) == {"desk:DE"}
    await asyncio.gather(*(dashboard.assert_silent() for dashboard in (first, second, ncb)))
    for dashboard in (first, second, ncb):
        await dashboard.close()

    entries = await db.fetch(
        "SELECT actor_principal_id, details FROM audit_entries WHERE action = 'request.reassigned'"
    )
    assert len(entries) == 1, "a no-op hand-over is not a change"
    assert entries[0]["actor_principal_id"] == world("DE", Role.NCB).principal_id
    assert json.loads(entries[0]["details"]) == {
        "from": str(on_duty.principal_id),
        "to": str(colleague.principal_id),
    }


async def test_a_request_is_handed_only_to_an_active_contact_point_of_its_target(
    server: RunningServer, database: Database, db: asyncpg.Connection, world: World
) -> None:
    disabled = await make_contact_point(database, world, "DE", "DE officer gone")
    await db.execute(
        "UPDATE principals SET disabled_at = now() WHERE id = $1", disabled.principal_id
    )
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"))
        url = f"/v1/requests/{created['id']}/assign"
        desk = world.desk("DE").headers
        for wrong in (
            world.desk("JP").principal_id,
            world("DE", Role.NCB).principal_id,
            world.unit("DE").principal_id,
            disabled.principal_id,
            uuid.uuid4(),
        ):
            response = await client.post(url, json={"principal_id": str(wrong)}, headers=desk)
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["field"] == "principal_id"
        body = {"principal_id": str(world.desk("DE").principal_id)}
        assert (
            await client.post(url, json=body, headers=world.unit("FR").headers)
        ).status_code == 403
        assert (
            await client.post(url, json=body, headers=world.desk("JP").headers)
        ).status_code == 404
        assert (await client.post(url, json={"principal_id": "x"}, headers=desk)).status_code == 422
        await db.execute("UPDATE requests SET status = 'cancelled'")
        finished = await client.post(url, json=body, headers=desk)
    assert finished.status_code == 409, finished.text
    assert (
        await db.fetchval("SELECT count(*) FROM audit_entries WHERE action = 'request.reassigned'")
        == 0
    )


async def test_the_demo_gives_every_desk_a_primary_and_a_backup_now(database: Database) -> None:
    async with database.transaction() as session:
        credentials = await seed_demo(session)
    assert credentials is not None
    async with database.transaction() as session:
        now = (await session.execute(select(func.now()))).scalar_one()
        for code in DEMO_COUNTRIES:
            roster = await store.load(session, code, now - timedelta(days=2), now)
            officers = {
                cp["principal_id"] for cp in credentials["countries"][code]["contact_points"]
            }
            assert roster.time_zone != "UTC"
            primary = on_duty_primary(roster, now)
            assert str(primary) in officers
            layers = {r.layer for r in roster.rotations}
            assert layers == {Layer.PRIMARY, Layer.BACKUP}
