"""Feedback to partners as STIX 2.1 sightings in their inbox: valid STIX, versioned per kind,
told by relay247's identity, and given only by those who may."""

from __future__ import annotations

import asyncpg
import httpx

from app.core.database import Database
from app.models.enums import Role
from app.sharing.feedback import EXTENSION_DEFINITION, EXTENSION_ID, IDENTITY_ID
from app.stix.validation import problems
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.shared_data import inbox_of, indicator, quarantine


async def _accepted(
    client: httpx.AsyncClient, world: World, database: Database, partner: Party
) -> tuple[int, int, str]:
    obj = indicator("203.0.113.99")
    _, [row_id] = await quarantine(database, partner, [obj])
    answer = await client.post(
        f"/v1/shared-data/objects/{row_id}/decision",
        json={"decision": "accept"},
        headers=world.gs.headers,
    )
    assert answer.status_code == 200, answer.text
    return row_id, answer.json()["decided"][0]["gateway_row_id"], obj["id"]


async def test_feedback_is_a_valid_sighting_in_the_partners_inbox_versioned_per_kind(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    partner = world.partner("FR")
    async with http(server.http) as client:
        row_id, copy_id, stix_id = await _accepted(client, world, database, partner)
        first = await client.post(
            f"/v1/shared-data/objects/{copy_id}/feedback",
            json={"kind": "seen"},
            headers=world.desk("DE").headers,
        )
        assert first.status_code == 201, first.text
        second = await client.post(
            f"/v1/shared-data/objects/{row_id}/feedback",
            json={"kind": "seen"},
            headers=world.gs.headers,
        )
        assert second.status_code == 201, second.text
        expired = await client.post(
            f"/v1/shared-data/objects/{copy_id}/feedback",
            json={"kind": "expired"},
            headers=world.gs.headers,
        )
        assert expired.status_code == 201
        submission = await db.fetchval(
            "SELECT submission_id FROM stix_objects WHERE row_id = $1", row_id
        )
        outcome = await client.get(
            f"/v1/shared-data/submissions/{submission}/objects", headers=partner.headers
        )
    sighting = second.json()
    assert problems(sighting) == []
    assert problems(EXTENSION_DEFINITION) == []
    assert sighting["id"] == first.json()["id"]
    assert sighting["count"] == 2
    assert sighting["modified"] > first.json()["modified"]
    assert sighting["sighting_of_ref"] == stix_id
    assert sighting["created_by_ref"] == IDENTITY_ID
    assert sighting["extensions"][EXTENSION_ID]["feedback"] == "seen"
    inbox = await inbox_of(database, partner)
    rows = await db.fetch(
        "SELECT origin, triage, type, collection_id FROM stix_objects WHERE origin = 'feedback'"
    )
    assert len(rows) == 3
    assert {(r["type"], r["triage"], r["collection_id"]) for r in rows} == {
        ("sighting", None, inbox)
    }
    feedback = {item["kind"]: item["count"] for item in outcome.json()["items"][0]["feedback"]}
    assert feedback == {"seen": 2, "expired": 1}
    assert (
        await db.fetchval("SELECT count(*) FROM audit_entries WHERE action = 'data.feedback'") == 3
    )


async def test_who_may_give_which_feedback(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        row_id, copy_id, _ = await _accepted(client, world, database, world.partner("FR"))
        _, [quarantined] = await quarantine(database, world.partner("FR"), [indicator()])
        refused = [
            (world.partner("FR"), copy_id, "seen", 403),
            (world.partner("DE"), copy_id, "seen", 403),
            (world.auditor, copy_id, "seen", 403),
            (world.desk("DE"), copy_id, "expired", 403),
            (world.desk("DE"), row_id, "seen", 404),  # the partner's inbox is not theirs
            (world.gs, quarantined, "seen", 409),  # not accepted
            (world.gs, 999_999, "seen", 404),
            (world("JP", Role.NCB), copy_id, "bogus", 422),
        ]
        for party, target, kind, status in refused:
            answer = await client.post(
                f"/v1/shared-data/objects/{target}/feedback",
                json={"kind": kind},
                headers=party.headers,
            )
            assert answer.status_code == status, (party.role, kind, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
    assert await db.fetchval("SELECT count(*) FROM stix_objects WHERE origin = 'feedback'") == 0
