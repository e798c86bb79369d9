"""Handling rules on a request's own content: who reads it under each TLP code, H3's
statement, and the retention every request is given at creation.

FR's unit sends to DE. Who reads TLP:RED content, the one contact point holding the request,
is tested on every route in tests/test_red_holder.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World, request_body


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
