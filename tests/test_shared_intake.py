"""Bundles stored whole or not at all, under the submitter's terms; hostile bundles refused
with a clear reason and nothing stored; who may read and write which collection (BOLA)."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.canonical import sha256_hex
from app.core.database import Database
from app.core.database.urls import asyncpg_dsn
from app.models.enums import Role
from app.sharing import bundle_rows
from app.sharing.partner_terms import identity_id
from tests.clients import Dashboard, http
from tests.conftest import RunningServer
from tests.factories import Party, World, end_agreements, make_agreement
from tests.shared_scene import misp_event
from tests.taxii_support import (
    GATEWAY,
    TAXII,
    envelope,
    headers,
    inbox_of,
    indicator,
    make_share,
    objects_url,
    post,
    stored,
)
from tests.waiting import eventually


async def _refused(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    status: dict[str, Any] = response.json()
    assert status["status"] == "complete"
    assert status["success_count"] == 0
    assert status["failure_count"] == status["total_count"]
    return status


def _messages(status: dict[str, Any]) -> dict[str, str]:
    return {failure["id"]: failure["message"] for failure in status["failures"]}


async def test_a_partner_bundle_lands_quarantined_in_its_inbox_without_indicator_values(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    partner = world.partner("DE")
    inbox = await inbox_of(db, partner)
    objects = [indicator("198.51.100.1"), indicator("198.51.100.2", tlp=None)]
    async with http(server.http) as client:
        response = await post(client, partner, inbox, envelope(*objects))
        again = await post(client, partner, inbox, envelope(*objects))
    assert response.status_code == 202
    assert response.headers["content-type"] == TAXII
    assert (response.json()["success_count"], again.json()["success_count"]) == (2, 2)
    rows = await db.fetch(
        "SELECT triage, handling_code, purge_after - date_added AS kept FROM stix_objects "
        "WHERE collection_id = $1 ORDER BY row_id",
        uuid.UUID(inbox),
    )
    assert [(r["triage"], r["handling_code"]) for r in rows] == [
        ("quarantined", "GREEN"),
        ("quarantined", "GREEN"),  # DE's agreement: unmarked objects are GREEN
    ]
    assert rows[0]["kept"].days == 365
    assert await db.fetchval("SELECT count(*) FROM indicator_values") == 0
    actions = await db.fetch(
        "SELECT action, details FROM audit_entries WHERE action LIKE 'data.%' ORDER BY id"
    )
    assert [a["action"] for a in actions] == ["data.submitted", "data.submitted"]
    assert json.loads(actions[1]["details"])["stored"] == 0  # the re-send stored nothing


async def test_the_global_desk_hears_its_queue_grow_when_a_partner_submits(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    partner = world.partner("FR")
    inbox = await inbox_of(db, partner)
    desk = await Dashboard.open(server.ws, world.gs)
    try:
        async with http(server.http) as client:
            response = await post(client, partner, inbox, envelope(indicator("198.51.100.9")))
        assert response.status_code == 202, response.text
        frame = await desk.receive_event("triage.changed")
        assert frame["data"] == {
            "quarantined": 1,
            "info_requested": 0,
            "submission_id": response.json()["id"],
        }
    finally:
        await desk.close()


async def test_a_member_share_is_stored_with_its_indicator_values(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        share = await make_share(client, unit, ["DE"])
        response = await post(client, unit, share, envelope(indicator("203.0.113.9")))
    assert response.json()["success_count"] == 1
    row = await db.fetchrow("SELECT row_id, triage FROM stix_objects")
    assert row["triage"] is None
    values = await db.fetch("SELECT kind, value FROM indicator_values")
    assert [(v["kind"], v["value"]) for v in values] == [("ip", "203.0.113.9")]


def test_chunks_start_small_and_double_up_to_the_chunk_size() -> None:
    bounds = bundle_rows.chunk_bounds(10_000)
    sizes = [end - start for start, end in bounds]
    assert sizes[:5] == [250, 500, 1000, 2000, 2000]
    assert sum(sizes) == 10_000
    assert all(end == following for (_, end), (following, _) in itertools.pairwise(bounds))
    assert bundle_rows.chunk_bounds(0) == []
    assert bundle_rows.chunk_bounds(3) == [(0, 3)]


async def test_a_bundle_is_written_a_chunk_at_a_time_and_refused_whole_from_a_late_chunk(
    server: RunningServer, world: World, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two: the refusal in the third chunk comes after two chunks were copied, and
    still nothing is stored; a duplicate across chunks is written once."""
    monkeypatch.setattr(bundle_rows, "CHUNK", 2)
    unit = world.unit("FR")
    first, second, third, fourth = (indicator(f"198.51.100.{n}") for n in (11, 12, 13, 14))
    twin = {**second, "name": "other content, same id and version"}
    async with http(server.http) as client:
        share = await make_share(client, unit, ["DE"])
        status = await _refused(
            await post(client, unit, share, envelope(first, second, third, first, fourth, twin))
        )
        assert _messages(status) == {
            first["id"]: "not stored: the bundle was refused",
            second[
                "id"
            ]: "conflicts with another object of this bundle with the same id and version",
            third["id"]: "not stored: the bundle was refused",
            fourth["id"]: "not stored: the bundle was refused",
        }
        assert await stored(db, share) == 0
        assert await db.fetchval("SELECT count(*) FROM indicator_values") == 0

        response = await post(client, unit, share, envelope(first, second, third, first, fourth))
    assert response.json()["success_count"] == 5
    rows = await db.fetch(
        "SELECT o.stix_id, v.value FROM stix_objects o JOIN indicator_values v "
        "ON v.object_row_id = o.row_id WHERE o.collection_id = $1",
        uuid.UUID(share),
    )
    # Each value names its own object's row (row ids are drawn before the rows are copied).
    assert sorted((r["stix_id"], r["value"]) for r in rows) == sorted(
        (obj["id"], f"198.51.100.{n}")
        for obj, n in ((first, 11), (second, 12), (third, 13), (fourth, 14))
    )


async def test_objects_found_stored_by_the_key_in_a_late_chunk_are_skipped_not_doubled(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first write is told of no versioned id's stored versions: the store's key finds
    the stored ones as the third chunk is copied, after two chunks of new objects, and the
    bundle is written again knowing them. A sender racing another that stores the same
    object meets it on the key the same way: written again knowing the other's rows.
    """
    monkeypatch.setattr(bundle_rows, "CHUNK", 2)
    unit = world.unit("FR")
    old = [indicator(f"198.51.100.{n}") for n in (21, 22)]
    new = [indicator(f"198.51.100.{n}") for n in (23, 24, 25, 26)]
    async with http(server.http) as client:
        share = await make_share(client, unit, ["DE"])
        assert (await post(client, unit, share, envelope(*old))).json()["success_count"] == 2
        response = await post(client, unit, share, envelope(*new, *old))
        assert response.status_code == 202
        assert response.json()["success_count"] == 6
        assert await stored(db, share) == 6
        assert await db.fetchval("SELECT count(*) FROM indicator_values") == 6
        entry = await db.fetchval(
            "SELECT details FROM audit_entries WHERE action = 'data.submitted' ORDER BY id DESC"
        )
        assert json.loads(entry)["stored"] == 4

        # Another writer holds the same id and version, not committed yet: the copy waits
        # on the key, then finds it stored, and the bundle is written again knowing it.
        raced, fresh = indicator("198.51.101.1"), indicator("198.51.101.2")
        holder = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            held = holder.transaction()
            await held.start()
            await holder.execute(
                "INSERT INTO stix_objects (collection_id, origin, stix_id, type, spec_version, "
                "version, date_added, object, object_hash, handling_code, purge_after) "
                "VALUES ($1, 'submitted', $2, 'indicator', '2.1', $3, now(), $4, $5, 'GREEN', "
                "now() + interval '1 day')",
                uuid.UUID(share),
                raced["id"],
                datetime(2025, 3, 14, 10, 40, tzinfo=UTC),
                json.dumps(raced),
                sha256_hex(raced),
            )
            posting = asyncio.create_task(post(client, unit, share, envelope(fresh, raced)))

            async def copy_waits_on_the_key() -> bool:
                return bool(
                    await db.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY%'"
                    )
                )

            await eventually(copy_waits_on_the_key)
            await held.commit()
            answer = await posting
        finally:
            await holder.close()
    assert (answer.status_code, answer.json()["success_count"]) == (202, 2), answer.text
    rows = await db.fetch(
        "SELECT stix_id FROM stix_objects WHERE stix_id = ANY($1::text[])",
        [raced["id"], fresh["id"]],
    )
    assert sorted(r["stix_id"] for r in rows) == sorted([raced["id"], fresh["id"]])


async def _hostile(
    client: httpx.AsyncClient, partner: Party, inbox: str, objects: list[dict[str, Any]]
) -> dict[str, str]:
    return _messages(await _refused(await post(client, partner, inbox, envelope(*objects))))


async def test_hostile_bundles_are_refused_whole_with_a_reason_and_nothing_stored(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    fr, de = world.partner("FR"), world.partner("DE")
    fr_inbox, de_inbox = await inbox_of(db, fr), await inbox_of(db, de)
    good = indicator("192.0.2.1")
    async with http(server.http) as client:
        claimed = indicator(created_by_ref=identity_id(de.agency_id))
        found = await _hostile(client, fr, fr_inbox, [good, claimed])
        assert "another identity" in found[claimed["id"]]
        assert found[good["id"]] == "not stored: the bundle was refused"

        red = indicator(tlp="RED")
        assert (
            "above the agreement's ceiling"
            in (await _hostile(client, fr, fr_inbox, [good, red]))[red["id"]]
        )

        unmarked = indicator(tlp=None)
        assert (
            "refuses unmarked" in (await _hostile(client, fr, fr_inbox, [unmarked]))[unmarked["id"]]
        )

        twin = {**good, "name": "other content, same id and version"}
        assert (
            "conflicts with another object"
            in (await _hostile(client, fr, fr_inbox, [good, twin]))[good["id"]]
        )

        campaign = {
            "type": "campaign",
            "spec_version": "2.1",
            "id": f"campaign--{uuid.uuid4()}",
            "created": "2025-01-01T00:00:00.000Z",
            "modified": "2025-01-01T00:00:00.000Z",
            "name": "x",
            "object_marking_refs": [indicator()["object_marking_refs"][0]],
        }
        assert (
            "does not allow objects of type campaign"
            in (await _hostile(client, fr, fr_inbox, [campaign]))[campaign["id"]]
        )

        broken = {**indicator(), "pattern": "not a pattern"}
        assert "invalid STIX 2.1" in (await _hostile(client, fr, fr_inbox, [broken]))[broken["id"]]

        own = indicator(created_by_ref=identity_id(fr.agency_id))
        assert (await post(client, fr, fr_inbox, envelope(own))).json()["success_count"] == 1
        changed = {**own, "name": "rewritten"}
        assert (
            "conflicts with the stored version"
            in (await _hostile(client, fr, fr_inbox, [changed]))[own["id"]]
        )
        assert await stored(db, fr_inbox) == 1

        for body in (
            b'{"objects": [',
            b"[" * 10_000 + b"]" * 10_000,
            json.dumps(envelope({**indicator(), "name": "nul\u0000"})).encode(),
        ):
            response = await client.post(objects_url(de_inbox), content=body, headers=headers(de))
            assert response.status_code == 400, response.text
            assert response.headers["content-type"] == TAXII
    assert await stored(db, de_inbox) == 0
    assert (
        await db.fetchval("SELECT count(*) FROM audit_entries WHERE action = 'data.refused'") == 10
    )


async def test_a_bundle_over_the_daily_volume_is_refused_whole(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    partner = world.partner("DE")
    inbox = await inbox_of(db, partner)
    await db.execute(
        "UPDATE partner_agreements SET daily_object_limit = 3 WHERE partner_agency_id = $1",
        partner.agency_id,
    )
    async with http(server.http) as client:
        fits = await post(
            client, partner, inbox, envelope(indicator("192.0.2.1"), indicator("192.0.2.2"))
        )
        assert fits.json()["success_count"] == 2
        over = await _refused(
            await post(
                client, partner, inbox, envelope(indicator("192.0.2.3"), indicator("192.0.2.4"))
            )
        )
    assert all("daily volume of 3 objects" in f["message"] for f in over["failures"])
    assert await stored(db, inbox) == 2


async def test_an_ended_agreement_refuses_every_submit(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    partner = world.partner("DE")
    inbox = await inbox_of(db, partner)
    await db.execute(
        "UPDATE partner_agreements SET valid_until = now() WHERE partner_agency_id = $1",
        partner.agency_id,
    )
    async with http(server.http) as client:
        response = await post(client, partner, inbox, envelope(indicator()))
    assert response.status_code == 403
    assert response.headers["content-type"] == TAXII
    assert await stored(db, inbox) == 0


async def test_who_reads_and_writes_which_collection(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    fr, de = world.partner("FR"), world.partner("DE")
    de_inbox = await inbox_of(db, de)
    async with http(server.http) as client:
        to_de = await make_share(client, world.unit("FR"), ["DE"])
        network = await make_share(client, world.unit("FR"), None)
        posted = await post(client, de, de_inbox, envelope(indicator()))
        status = posted.json()["id"]
        for collection in (de_inbox, GATEWAY, to_de, network):
            # A partner reads nothing but its own inbox: 404, as if none existed.
            got = await client.get(objects_url(collection), headers=headers(fr))
            assert got.status_code == 404, collection
            put = await post(client, fr, collection, envelope(indicator()))
            assert put.status_code == 404, collection
        assert (
            await client.get(f"/taxii2/api/status/{status}/", headers=headers(fr))
        ).status_code == 404
        assert (
            await client.get(f"/taxii2/api/status/{status}/", headers=headers(de))
        ).status_code == 200
        assert (
            await client.get(f"/taxii2/api/status/{status}/", headers=headers(world.gs))
        ).status_code == 200
        listed = await client.get("/taxii2/api/collections/", headers=headers(fr))
        assert [c["title"] for c in listed.json()["collections"]] == ["FR partner inbox"]
        # A unit reads the gateway but writes to no inbox; a country outside the audience: 404.
        assert (
            await post(client, world.unit("DE"), de_inbox, envelope(indicator()))
        ).status_code == 404
        assert (
            await post(client, world.unit("DE"), GATEWAY, envelope(indicator()))
        ).status_code == 403
        assert (
            await client.get(objects_url(to_de), headers=headers(world.unit("JP")))
        ).status_code == 404
        assert (
            await client.get(objects_url(to_de), headers=headers(world.desk("DE")))
        ).status_code == 200
        assert (
            await post(client, world.unit("DE"), to_de, envelope(indicator()))
        ).status_code == 403
        # The global desk reads every inbox and writes none.
        assert (
            await client.get(objects_url(de_inbox), headers=headers(world.gs))
        ).status_code == 200
        assert (await post(client, world.gs, de_inbox, envelope(indicator()))).status_code == 403
        # Only members make shares; partners and desks may not.
        for party in (fr, world.desk("FR"), world.auditor):
            made = await client.post(
                "/v1/shared-data/collections", json={"title": "x"}, headers=party.headers
            )
            assert made.status_code == 403, party
    assert await db.fetchval("SELECT count(*) FROM audit_entries WHERE action = 'data.read'") == 2


async def test_red_objects_are_read_by_their_submitter_and_the_global_desk_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        share = await make_share(client, unit, None)
        await post(client, unit, share, envelope(indicator(tlp="RED"), indicator(tlp="AMBER")))
        seen = {}
        for name, party in (("FR", unit), ("DE", world.unit("DE")), ("GS", world.gs)):
            got = await client.get(objects_url(share), headers=headers(party))
            seen[name] = len(got.json().get("objects", []))
    assert seen == {"FR": 2, "DE": 1, "GS": 2}


async def test_a_misp_event_is_converted_and_stored_through_the_same_intake(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    unit = world.unit("FR")
    event = misp_event()
    async with http(server.http) as client:
        share = await make_share(client, unit, None)
        response = await client.post(
            "/v1/shared-data/misp-events",
            params={"collection": share},
            json=event,
            headers=unit.headers,
        )
        refused = await client.post(
            "/v1/shared-data/misp-events",
            params={"collection": share},
            json={"not": "an event"},
            headers=unit.headers,
        )
    assert response.status_code == 202, response.text
    assert response.json()["failure_count"] == 0, response.text
    assert refused.status_code == 422
    values = await db.fetch("SELECT value FROM indicator_values")
    assert "198.51.100.77" in {v["value"] for v in values}
    creators = await db.fetch("SELECT DISTINCT object->>'created_by_ref' AS c FROM stix_objects")
    assert {row["c"] for row in creators} <= {identity_id(unit.agency_id), None}


async def test_a_unit_shares_only_within_its_access_agreements(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        kept = await make_share(client, unit, ["DE"])
        await end_agreements(database, unit)
        await make_agreement(database, unit, target_countries=["DE"])

        assert await make_share(client, unit, ["DE"])
        for audience, outside in ((["DE", "ES"], "ES"), (None, "the whole network")):
            refused = await client.post(
                "/v1/shared-data/collections",
                json={"title": "too wide", "audience": audience},
                headers=unit.headers,
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["reason"] == "target_not_in_scope"
            assert f"covers sharing with {outside}" in refused.json()["detail"]

        await end_agreements(database, unit)
        # The share made under an agreement takes nothing once none is in force.
        response = await post(client, unit, kept, envelope(indicator("198.51.100.31")))
        assert response.status_code == 403, response.text
        assert await stored(db, kept) == 0
        # An NCB, which grants agreements, shares with the whole network without one.
        assert await make_share(client, world("FR", Role.NCB), None)
