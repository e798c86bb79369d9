"""Retention of shared data: purged at purge_after unless held, content gone, identifiers
and matches with it, the audit chain keeping the hashes; the hold is the global desk's."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg

from app.core.database import Database
from app.retention.job import purge_shared_batch
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World
from tests.shared_data import indicator, quarantine


async def test_due_objects_are_purged_unless_held_and_the_hashes_stay(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    _, [held, due] = await quarantine(
        database,
        world.partner("FR"),
        [indicator("192.0.2.1"), indicator("192.0.2.2")],
        retention=timedelta(days=1),
    )
    _, [kept] = await quarantine(database, world.partner("FR"), [indicator("192.0.2.3")])
    async with http(server.http) as client:
        accepted = await client.post(
            f"/v1/shared-data/objects/{due}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
        copy_id = accepted.json()["decided"][0]["gateway_row_id"]
        hold = await client.put(
            f"/v1/shared-data/objects/{held}/legal-hold", headers=world.gs.headers
        )
        assert hold.status_code == 200, hold.text
        assert hold.json()["changed"] is True
        again = await client.put(
            f"/v1/shared-data/objects/{held}/legal-hold", headers=world.gs.headers
        )
        assert again.json()["changed"] is False
    await db.execute(
        "UPDATE stix_objects SET purge_after = now() - interval '1 hour' "
        "WHERE row_id = ANY($1::bigint[])",
        [held, due, copy_id],
    )
    report = await purge_shared_batch(database)
    assert report is not None
    assert (report.objects, report.indicator_values) == (2, 1)
    rows = {
        row["row_id"]: row
        for row in await db.fetch("SELECT row_id, object, purged_at, object_hash FROM stix_objects")
    }
    for purged in (due, copy_id):
        assert rows[purged]["object"] is None
        assert rows[purged]["purged_at"] is not None
    for alive in (held, kept):
        assert rows[alive]["object"] is not None
        assert rows[alive]["purged_at"] is None
    assert await db.fetchval("SELECT count(*) FROM indicator_values") == 0
    entries = await db.fetch(
        "SELECT object_id, content_hash, details, actor_principal_id FROM audit_entries "
        "WHERE action = 'data.purged' ORDER BY object_id"
    )
    assert sorted(int(entry["object_id"]) for entry in entries) == sorted([due, copy_id])
    assert {entry["content_hash"] for entry in entries} == {rows[due]["object_hash"]}
    assert all(entry["actor_principal_id"] is None for entry in entries)
    assert json.loads(entries[0]["details"])["purge_after"]

    async with http(server.http) as client:
        lifted = await client.delete(
            f"/v1/shared-data/objects/{held}/legal-hold", headers=world.gs.headers
        )
        assert lifted.json()["changed"] is True
        purged_hold = await client.put(
            f"/v1/shared-data/objects/{due}/legal-hold", headers=world.gs.headers
        )
        assert purged_hold.status_code == 409
        read = await client.get(f"/v1/shared-data/objects/{copy_id}", headers=world.gs.headers)
        assert read.json()["object"] is None
        decided = await client.post(
            f"/v1/shared-data/objects/{held}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
        assert decided.status_code == 200
    report = await purge_shared_batch(database)
    assert report is not None
    assert report.objects == 2
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action LIKE 'data.legal_hold_%'"
        )
        == 2
    )


async def test_only_the_global_desk_holds_shared_data(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    _, [row_id] = await quarantine(database, world.partner("DE"), [indicator()])
    async with http(server.http) as client:
        for party in (world.partner("DE"), world.unit("DE"), world.auditor, world.admin):
            for method in ("PUT", "DELETE"):
                answer = await client.request(
                    method, f"/v1/shared-data/objects/{row_id}/legal-hold", headers=party.headers
                )
                assert answer.status_code == 403, (party.role, method)
        unknown = await client.put(
            "/v1/shared-data/objects/424242/legal-hold", headers=world.gs.headers
        )
        assert unknown.status_code == 404
    assert await db.fetchval("SELECT legal_hold_at FROM stix_objects") is None


async def test_an_accepted_indicator_matches_an_open_request_until_it_is_purged(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    """Accepting runs matching in the decision's transaction; the purge takes the match away
    with the content that made it."""
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"), "DE")  # names 203.0.113.7
        _, [row_id] = await quarantine(database, world.partner("DE"), [indicator("203.0.113.7")])
        assert await db.fetchval("SELECT count(*) FROM request_matches") == 0
        accepted = await client.post(
            f"/v1/shared-data/objects/{row_id}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
    copy_id = accepted.json()["decided"][0]["gateway_row_id"]
    match = await db.fetchrow("SELECT request_id, object_row_id FROM request_matches")
    assert (str(match["request_id"]), match["object_row_id"]) == (request["id"], copy_id)
    await db.execute("UPDATE stix_objects SET purge_after = now() - interval '1 second'")
    report = await purge_shared_batch(database)
    assert report is not None
    assert report.matches == 1
    assert await db.fetchval("SELECT count(*) FROM request_matches") == 0
