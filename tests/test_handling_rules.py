"""Handling rules on a request's own content: who reads it under each TLP code, H3's
statement, and the retention every request is given at creation.

FR's unit sends to DE. DE's contact point sits in DE's unit agency (make_world); a second DE
contact point sits in another DE agency, so "the holding agency" and "the whole target desk"
differ.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.database import Database
from app.models.enums import AgencyKind, Role
from app.services.directory import agencies
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World, make_party, make_rotation, request_body


async def _other_agency_desk(database: Database) -> Party:
    """A DE contact point of another DE agency (a prosecutor's 24/7 desk, say)."""
    async with database.transaction() as session:
        agency = await agencies.create_agency(
            session, country="DE", kind=AgencyKind.UNIT, name="DE prosecutors"
        )
    return await make_party(
        database,
        agency_id=agency.id,
        country="DE",
        role=Role.CONTACT_POINT,
        name="DE prosecutor on duty",
    )


async def _content_seen(client: httpx.AsyncClient, party: Party, request_id: str) -> Any:
    response = await client.get(f"/v1/requests/{request_id}", headers=party.headers)
    assert response.status_code == 200, response.text
    return response.json()["content"]


async def test_amber_content_is_for_both_sides_and_never_the_auditor(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE")
        for party in (world.unit("FR"), world.desk("DE"), world("DE", Role.NCB), world.gs):
            assert (await _content_seen(client, party, created["id"])) is not None
        assert (await _content_seen(client, world.auditor, created["id"])) is None
        # The sender's NCB oversees what its country sends: metadata, not content.
        assert (await _content_seen(client, world("FR", Role.NCB), created["id"])) is None


async def test_amber_strict_content_stays_in_the_receiving_organisation(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", handling_code="AMBER+STRICT")
        assert (await _content_seen(client, world.desk("DE"), created["id"])) is not None
        assert (await _content_seen(client, world("DE", Role.NCB), created["id"])) is None
        assert (await _content_seen(client, world.gs, created["id"])) is not None


async def test_red_content_is_for_the_two_named_agencies_and_the_global_desk(
    server: RunningServer, world: World, database: Database
) -> None:
    other_desk = await _other_agency_desk(database)
    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", handling_code="RED")
        assert created["assigned_to"] == str(world.desk("DE").principal_id)
        for party in (world.unit("FR"), world.desk("DE"), world.gs):
            assert (await _content_seen(client, party, created["id"])) is not None
        # The rest of the target desk, the NCB, the auditor: metadata only.
        for party in (other_desk, world("DE", Role.NCB), world.auditor):
            assert (await _content_seen(client, party, created["id"])) is None

        # Handed to the other agency's contact point: the named agency changes with it.
        handed = await client.post(
            f"/v1/requests/{created['id']}/assign",
            json={"principal_id": str(other_desk.principal_id)},
            headers=world.desk("DE").headers,
        )
        assert handed.status_code == 200, handed.text
        assert (await _content_seen(client, other_desk, created["id"])) is not None
        assert (await _content_seen(client, world.desk("DE"), created["id"])) is None


async def test_red_content_held_by_nobody_is_read_by_the_sender_and_global_desk_only(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", handling_code="RED")
        assert created["assigned_to"] is None
        assert (await _content_seen(client, world.desk("DE"), created["id"])) is None
        assert (await _content_seen(client, world.gs, created["id"])) is not None
        listed = await client.get("/v1/requests", headers=world.desk("DE").headers)
        assert [item["content"] for item in listed.json()["items"]] == [None]


async def test_h3_needs_its_restriction_in_words(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        refused = await client.post(
            "/v1/requests",
            json=request_body("DE", onward_use=["H3"]),
            headers=world.unit("FR").headers,
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "handling_note"
        note = "Not to be shared with tax authorities"
        created = await submit_request(
            client, world.unit("FR"), "DE", onward_use=["H2", "H3"], handling_note=note
        )
        assert created["handling_note"] == note


@pytest.mark.parametrize(
    ("request_type", "days"),
    [("preservation", 90), ("emergency_disclosure", 180), ("mutual_assistance", 730)],
)
async def test_each_request_gets_the_retention_of_its_type(
    server: RunningServer, world: World, request_type: str, days: int
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", type=request_type)
    assert created["retention_days"] == days
    assert created["retain_until"] is None  # counted from when it is final
    assert created["legal_hold"] is None
    assert created["purged_at"] is None
    assert created["version"] == 1
