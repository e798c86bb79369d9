"""Partner agreements over REST: made and changed by the global desk (and admins), read by
the partner itself, validated with clear problems, audited, and making the partner's inbox."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World


def terms(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object_types": ["indicator", "ipv4-addr", "domain-name"],
        "daily_object_limit": 50_000,
        "handling_ceiling": "AMBER",
        "unmarked": "default",
        "default_handling": "GREEN",
        "retention_days": 180,
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2027-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body


async def test_a_new_partner_gets_an_agreement_and_an_inbox_and_it_is_audited(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        made = await client.post(
            "/v1/agencies",
            json={"country": "JP", "kind": "partner", "name": "JP CERT partner"},
            headers=world.gs.headers,
        )
        assert made.status_code == 201, made.text
        agency_id = made.json()["id"]
        put = await client.put(
            f"/v1/partner-agreements/{agency_id}", json=terms(), headers=world.gs.headers
        )
        assert put.status_code == 201, put.text
        agreement = put.json()
        assert agreement["state"] == "active"
        inbox = await db.fetchrow(
            "SELECT kind, owner_agency_id FROM data_collections WHERE id = $1",
            agreement["inbox_collection_id"],
        )
        assert (inbox["kind"], str(inbox["owner_agency_id"])) == ("inbox", agency_id)

        changed = await client.put(
            f"/v1/partner-agreements/{agency_id}",
            json=terms(handling_ceiling="GREEN", retention_days=30),
            headers=world.admin.headers,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["inbox_collection_id"] == agreement["inbox_collection_id"]
        same = await client.put(
            f"/v1/partner-agreements/{agency_id}",
            json=terms(handling_ceiling="GREEN", retention_days=30),
            headers=world.gs.headers,
        )
        assert same.status_code == 200
    entries = await db.fetch(
        "SELECT details FROM audit_entries WHERE action = 'partner_agreement.changed' ORDER BY id"
    )
    assert len(entries) == 2  # the unchanged PUT wrote nothing
    first, second = (json.loads(entry["details"]) for entry in entries)
    assert first["before"] is None
    assert first["after"]["handling_ceiling"] == "AMBER"
    assert second["before"]["retention_days"] == 180
    assert second["after"]["retention_days"] == 30
    assert await db.fetchval("SELECT count(*) FROM data_collections WHERE kind = 'inbox'") == 3


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"object_types": ["indicator", "ip-address"]}, "not STIX 2.1 object types"),
        ({"object_types": []}, "at least 1"),
        ({"object_types": ["indicator", "indicator"]}, "more than once"),
        ({"unmarked": "default", "default_handling": None}, "default handling code"),
        ({"unmarked": "refuse", "default_handling": "GREEN"}, "never apply"),
        ({"handling_ceiling": "GREEN", "default_handling": "AMBER"}, "above the ceiling"),
        ({"retention_days": 0}, "greater than or equal to 1"),
        ({"retention_days": 36501}, "less than or equal to 36500"),
        ({"valid_until": "2025-01-01T00:00:00Z"}, "valid_until must be after"),
        ({"daily_object_limit": 0}, "greater than or equal to 1"),
        ({"handling_ceiling": "PURPLE"}, "handling_ceiling"),
        ({"object_types": ["indicator\x00"]}, "not STIX 2.1"),
    ],
)
async def test_bad_terms_are_refused_with_a_clear_problem(
    server: RunningServer, world: World, overrides: dict[str, Any], says: str
) -> None:
    async with http(server.http) as client:
        answer = await client.put(
            f"/v1/partner-agreements/{world.partner('FR').agency_id}",
            json=terms(**overrides),
            headers=world.gs.headers,
        )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert says in answer.text


async def test_an_agreement_is_for_a_partner_agency_only(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        unit = await client.put(
            f"/v1/partner-agreements/{world.unit('FR').agency_id}",
            json=terms(),
            headers=world.gs.headers,
        )
        assert unit.status_code == 422
        assert "kind unit" in unit.json()["detail"]
        unknown = await client.put(
            "/v1/partner-agreements/6b1f0c4e-0000-4000-8000-000000000000",
            json=terms(),
            headers=world.gs.headers,
        )
        assert unknown.status_code == 404


async def test_a_partner_reads_its_own_agreement_only_and_nobody_else_manages_them(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    fr, de = world.partner("FR"), world.partner("DE")
    async with http(server.http) as client:
        own = await client.get(f"/v1/partner-agreements/{fr.agency_id}", headers=fr.headers)
        assert own.status_code == 200
        assert own.json()["unmarked"] == "refuse"
        other = await client.get(f"/v1/partner-agreements/{de.agency_id}", headers=fr.headers)
        assert other.status_code == 404
        listed = await client.get("/v1/partner-agreements", headers=fr.headers)
        assert [item["partner_agency_id"] for item in listed.json()["items"]] == [str(fr.agency_id)]
        everyone = await client.get("/v1/partner-agreements", headers=world.gs.headers)
        assert len(everyone.json()["items"]) == 2
        for party in (
            fr,
            world.unit("FR"),
            world.desk("FR"),
            world("FR", Role.NCB),
            world.auditor,
        ):
            put = await client.put(
                f"/v1/partner-agreements/{fr.agency_id}", json=terms(), headers=party.headers
            )
            assert put.status_code == 403, party.role
        for party in (world.unit("FR"), world("FR", Role.NCB), world.auditor):
            read = await client.get("/v1/partner-agreements", headers=party.headers)
            assert read.status_code == 403, party.role
        forged = await client.get(
            "/v1/partner-agreements", params={"cursor": "bm90IG91cnM"}, headers=world.gs.headers
        )
        assert forged.status_code == 422
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action = 'partner_agreement.changed'"
        )
        == 0
    )
