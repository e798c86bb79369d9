"""The global desk's triage of partners' submissions: the queue, decisions per object and per
bundle, the accepted copy in the gateway with its provenance and identifiers, and who may
see or do any of it."""

from __future__ import annotations

import asyncpg
import pytest

from app.core.database import Database
from app.models.enums import HandlingCode, Role
from app.models.shared_data import GATEWAY_COLLECTION_ID
from tests.clients import Dashboard, http
from tests.conftest import RunningServer
from tests.factories import World
from tests.shared_data import indicator, quarantine


async def test_the_queue_lists_waiting_objects_oldest_first_with_counts_and_age(
    server: RunningServer, world: World, database: Database
) -> None:
    first, first_rows = await quarantine(database, world.partner("FR"), [indicator(), indicator()])
    _, de_rows = await quarantine(database, world.partner("DE"), [indicator("198.51.100.9")])
    async with http(server.http) as client:
        answer = await client.get("/v1/shared-data/quarantine", headers=world.gs.headers)
        assert answer.status_code == 200, answer.text
        queue = answer.json()
        assert [item["row_id"] for item in queue["items"]] == [*first_rows, *de_rows]
        assert queue["counts"]["quarantined"] == 3
        assert queue["counts"]["submissions"] == 2
        assert queue["counts"]["oldest_age_seconds"] >= 0
        assert queue["items"][0]["partner"] == "FR partner"
        assert "object" not in queue["items"][0]  # metadata only

        by_partner = await client.get(
            "/v1/shared-data/quarantine",
            params={"partner_agency_id": str(world.partner("DE").agency_id)},
            headers=world.gs.headers,
        )
        assert [item["row_id"] for item in by_partner.json()["items"]] == de_rows
        paged = await client.get(
            "/v1/shared-data/quarantine", params={"limit": 2}, headers=world.gs.headers
        )
        rest = await client.get(
            "/v1/shared-data/quarantine",
            params={"limit": 2, "cursor": paged.json()["next_cursor"]},
            headers=world.gs.headers,
        )
        assert [item["row_id"] for item in rest.json()["items"]] == de_rows
        assert rest.json()["next_cursor"] is None
        by_submission = await client.get(
            "/v1/shared-data/quarantine",
            params={"submission_id": str(first)},
            headers=world.gs.headers,
        )
        assert by_submission.json()["counts"]["quarantined"] == 2


async def test_accepting_copies_the_object_into_the_gateway_with_provenance_and_identifiers(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    obj = indicator("203.0.113.77", tlp=HandlingCode.AMBER)
    _, [row_id] = await quarantine(database, world.partner("FR"), [obj])
    async with http(server.http) as client:
        answer = await client.post(
            f"/v1/shared-data/objects/{row_id}/decision",
            json={"decision": "accept", "note": "Corroborated by our own sensors"},
            headers=world.gs.headers,
        )
    assert answer.status_code == 200, answer.text
    decided = answer.json()
    copy_id = decided["decided"][0]["gateway_row_id"]
    assert decided["queue"]["quarantined"] == 0
    source = await db.fetchrow("SELECT * FROM stix_objects WHERE row_id = $1", row_id)
    copy = await db.fetchrow("SELECT * FROM stix_objects WHERE row_id = $1", copy_id)
    assert source["triage"] == "accepted"
    assert source["decided_by"] == world.gs.principal_id
    assert source["decision_note"] == "Corroborated by our own sensors"
    assert copy["collection_id"] == GATEWAY_COLLECTION_ID
    assert copy["origin"] == "accepted"
    assert copy["source_row_id"] == row_id
    assert copy["triage"] is None
    for column in ("stix_id", "version", "object", "object_hash", "handling_code", "purge_after"):
        assert copy[column] == source[column], column
    values = await db.fetch("SELECT kind, value, object_row_id FROM indicator_values")
    assert [tuple(value) for value in values] == [("ip", "203.0.113.77", copy_id)]
    entries = await db.fetch(
        "SELECT object_id, details, content_hash FROM audit_entries WHERE action = 'data.triaged'"
    )
    assert [entry["object_id"] for entry in entries] == [str(row_id)]
    assert entries[0]["content_hash"] == source["object_hash"]


async def test_a_bundle_decision_takes_every_object_still_open_and_a_decision_is_final(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    submission, rows = await quarantine(
        database, world.partner("DE"), [indicator(f"192.0.2.{n}") for n in range(1, 4)]
    )
    async with http(server.http) as client:
        asked = await client.post(
            f"/v1/shared-data/objects/{rows[0]}/decision",
            json={"decision": "request_info", "note": "Where was this seen?"},
            headers=world.gs.headers,
        )
        assert asked.status_code == 200, asked.text
        again = await client.post(
            f"/v1/shared-data/objects/{rows[0]}/decision",
            json={"decision": "request_info"},
            headers=world.gs.headers,
        )
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        rejected = await client.post(
            f"/v1/shared-data/submissions/{submission}/decision",
            json={"decision": "reject", "note": "Sinkholed addresses"},
            headers=world.gs.headers,
        )
        assert rejected.status_code == 200, rejected.text
        assert sorted(item["row_id"] for item in rejected.json()["decided"]) == rows
        final = await client.post(
            f"/v1/shared-data/objects/{rows[1]}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
        assert final.status_code == 409
        assert "final" in final.json()["detail"]
        nothing_left = await client.post(
            f"/v1/shared-data/submissions/{submission}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
        assert nothing_left.status_code == 409
    assert await db.fetchval("SELECT count(*) FROM stix_objects") == 3  # no copy
    assert await db.fetchval("SELECT count(*) FROM indicator_values") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM audit_entries WHERE action = 'data.triaged'") == 4
    )


async def test_a_version_the_gateway_holds_already_is_a_conflict_and_nothing_is_written(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    """Two partners send the same id and version: the second accept would overwrite
    provenance; it is refused whole, the bundle's other objects included."""
    shared = indicator("203.0.113.5")
    await quarantine(database, world.partner("FR"), [shared])
    other = indicator("203.0.113.6")
    submission, rows = await quarantine(
        database, world.partner("DE"), [other, {**shared, "name": "conflicting"}]
    )
    async with http(server.http) as client:
        first = await client.post(
            "/v1/shared-data/quarantine", headers=world.gs.headers
        )  # a POST to a GET route: no side effect
        assert first.status_code == 405
        fr_rows = (
            await client.get(
                "/v1/shared-data/quarantine",
                params={"partner_agency_id": str(world.partner("FR").agency_id)},
                headers=world.gs.headers,
            )
        ).json()["items"]
        ok = await client.post(
            f"/v1/shared-data/objects/{fr_rows[0]['row_id']}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
        assert ok.status_code == 200
        entries_before = await db.fetchval("SELECT count(*) FROM audit_entries")
        clash = await client.post(
            f"/v1/shared-data/submissions/{submission}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
    assert clash.status_code == 409, clash.text
    assert clash.json()["row_ids"] == [rows[1]]
    triage = await db.fetch(
        "SELECT triage FROM stix_objects WHERE row_id = ANY($1::bigint[])", rows
    )
    assert {row["triage"] for row in triage} == {"quarantined"}
    assert await db.fetchval("SELECT count(*) FROM audit_entries") == entries_before
    assert await db.fetchval("SELECT count(*) FROM indicator_values") == 1


async def test_the_desk_hears_the_queue_change_counts_only(
    server: RunningServer, world: World, database: Database
) -> None:
    _, [row_id] = await quarantine(database, world.partner("FR"), [indicator()])
    desk = await Dashboard.open(server.ws, world.gs)
    try:
        assert "triage" in desk.welcome["channels"]
        async with http(server.http) as client:
            await client.post(
                f"/v1/shared-data/objects/{row_id}/decision",
                json={"decision": "reject"},
                headers=world.gs.headers,
            )
        frame = await desk.receive_event("triage.changed")
        assert frame["channel"] == "triage"
        assert frame["data"] == {
            "quarantined": 0,
            "info_requested": 0,
            "decided": 1,
            "decision": "reject",
        }
    finally:
        await desk.close()


@pytest.mark.parametrize(
    "note",
    ["nul \x00 inside", "x" * 10_000],
    ids=["nul", "10k"],
)
async def test_hostile_notes_are_refused_with_a_problem(
    server: RunningServer, world: World, database: Database, note: str
) -> None:
    _, [row_id] = await quarantine(database, world.partner("FR"), [indicator()])
    async with http(server.http) as client:
        answer = await client.post(
            f"/v1/shared-data/objects/{row_id}/decision",
            json={"decision": "accept", "note": note},
            headers=world.gs.headers,
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/shared-data/objects/999999/decision", None),
        ("/v1/shared-data/objects/99999999999999999999/decision", None),
        ("/v1/shared-data/objects/0/decision", None),
        ("/v1/shared-data/submissions/6b1f0c4e-0000-4000-8000-000000000000/decision", None),
        ("/v1/shared-data/submissions/not-a-uuid/decision", None),
    ],
)
async def test_unknown_objects_and_submissions_are_4xx_problems(
    server: RunningServer, world: World, path: str, params: dict[str, str] | None
) -> None:
    async with http(server.http) as client:
        answer = await client.post(path, json={"decision": "accept"}, headers=world.gs.headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "cursor", ["garbage", "eyJzIjogLTF9", "eyJzIjogOTk5OTk5OTk5OTk5OTk5OTk5OTl9", "x" * 600]
)
async def test_forged_cursors_are_refused(server: RunningServer, world: World, cursor: str) -> None:
    async with http(server.http) as client:
        for path in ("/v1/shared-data/quarantine", "/v1/shared-data/submissions"):
            answer = await client.get(path, params={"cursor": cursor}, headers=world.gs.headers)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"


async def test_only_the_global_desk_triages_or_sees_the_queue(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    submission, [row_id] = await quarantine(database, world.partner("FR"), [indicator()])
    others = [
        world.partner("FR"),
        world.partner("DE"),
        world.unit("DE"),
        world.desk("DE"),
        world("DE", Role.NCB),
        world.auditor,
        world.admin,
    ]
    async with http(server.http) as client:
        for party in others:
            queue = await client.get("/v1/shared-data/quarantine", headers=party.headers)
            assert queue.status_code == 403, party.role
            one = await client.post(
                f"/v1/shared-data/objects/{row_id}/decision",
                json={"decision": "accept"},
                headers=party.headers,
            )
            assert one.status_code == 403, party.role
            bundle = await client.post(
                f"/v1/shared-data/submissions/{submission}/decision",
                json={"decision": "accept"},
                headers=party.headers,
            )
            assert bundle.status_code == 403, party.role
    assert await db.fetchval("SELECT triage FROM stix_objects WHERE row_id = $1", row_id) == (
        "quarantined"
    )


async def test_a_partner_sees_its_own_submissions_and_outcomes_never_another_partners(
    server: RunningServer, world: World, database: Database
) -> None:
    fr_submission, fr_rows = await quarantine(
        database, world.partner("FR"), [indicator(), indicator("198.51.100.1")]
    )
    de_submission, _ = await quarantine(database, world.partner("DE"), [indicator()])
    fr, de = world.partner("FR"), world.partner("DE")
    async with http(server.http) as client:
        await client.post(
            f"/v1/shared-data/objects/{fr_rows[0]}/decision",
            json={"decision": "request_info", "note": "Which campaign?"},
            headers=world.gs.headers,
        )
        mine = (await client.get("/v1/shared-data/submissions", headers=fr.headers)).json()
        assert [item["id"] for item in mine["items"]] == [str(fr_submission)]
        assert mine["items"][0]["triage"] == {
            "quarantined": 1,
            "info_requested": 1,
            "accepted": 0,
            "rejected": 0,
        }
        objects = await client.get(
            f"/v1/shared-data/submissions/{fr_submission}/objects", headers=fr.headers
        )
        assert objects.status_code == 200
        first = objects.json()["items"][0]
        assert (first["triage"], first["decision_note"]) == ("info_requested", "Which campaign?")
        for path, party in (
            (f"/v1/shared-data/submissions/{de_submission}", fr),
            (f"/v1/shared-data/submissions/{de_submission}/objects", fr),
            (f"/v1/shared-data/submissions/{fr_submission}", de),
            (f"/v1/shared-data/objects/{fr_rows[0]}", de),
        ):
            answer = await client.get(path, headers=party.headers)
            assert answer.status_code == 404, path
        assert (
            await client.get(f"/v1/shared-data/objects/{fr_rows[0]}", headers=fr.headers)
        ).json()["object"]["type"] == "indicator"
        everyone = await client.get("/v1/shared-data/submissions", headers=world.gs.headers)
        assert {item["id"] for item in everyone.json()["items"]} == {
            str(fr_submission),
            str(de_submission),
        }
        for party in (world.unit("FR"), world.desk("FR")):
            seen = await client.get("/v1/shared-data/submissions", headers=party.headers)
            assert seen.status_code in (200, 403)
            assert seen.status_code == 403 or seen.json()["items"] == []
            detail = await client.get(
                f"/v1/shared-data/submissions/{fr_submission}", headers=party.headers
            )
            assert detail.status_code in (403, 404)
