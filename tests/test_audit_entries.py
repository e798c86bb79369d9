"""GET /v1/audit/entries: the trail as auditors page through it. A network-wide auditor sees
every entry, a national auditor those concerning its own country and nothing else; pages
follow the chain, so paging on misses nothing; every read is audited."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World, make_national_auditor
from tests.waiting import eventually


async def all_sealed(db: asyncpg.Connection) -> None:
    async def sealed() -> bool:
        return bool(
            await db.fetchval("SELECT count(*) = 0 FROM audit_entries WHERE chain_position IS NULL")
        )

    await eventually(sealed, within=10)


async def read_all(
    client: httpx.AsyncClient, party: Party, limit: int = 200, **filters: str
) -> list[dict[str, Any]]:
    """Every entry the party may see, page by page (each page adds an audit.listed entry)."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {**filters, "limit": limit}
    while True:
        response = await client.get("/v1/audit/entries", params=params, headers=party.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


async def exchange(client: httpx.AsyncClient, world: World, sender: str, target: str) -> str:
    """A request from ``sender``'s unit to ``target``, read and acknowledged by its desk."""
    created = await submit_request(client, world.unit(sender), target=target)
    desk = world.desk(target)
    read = await client.get(f"/v1/requests/{created['id']}", headers=desk.headers)
    assert read.status_code == 200, read.text
    ack = await client.post(f"/v1/requests/{created['id']}/ack", headers=desk.headers)
    assert ack.status_code == 200, ack.text
    return str(created["id"])


async def test_a_national_auditor_sees_its_countrys_entries_and_nothing_of_others(
    server: RunningServer, world: World, database: Any, db: asyncpg.Connection
) -> None:
    de_auditor = await make_national_auditor(database, world, "DE")
    async with http(server.http) as client:
        to_de = await exchange(client, world, "FR", "DE")
        elsewhere = await exchange(client, world, "JP", "FR")
        # JP's desk tries DE's request: refused. DE (its request was probed) and FR (it sent
        # it) see an entry naming them; JP (its officer probed) one naming JP alone, since the
        # 404 hid from JP which countries the request is between.
        probe = await client.get(f"/v1/requests/{to_de}", headers=world.desk("JP").headers)
        assert probe.status_code == 404
        await all_sealed(db)

        everything = await read_all(client, world.auditor)
        seen_by_de = await read_all(client, de_auditor)

    assert {entry["object_id"] for entry in everything} >= {to_de, elsewhere}
    assert seen_by_de, "DE's auditor sees DE's entries"
    assert all("DE" in entry["countries"] for entry in seen_by_de)
    assert elsewhere not in {entry["object_id"] for entry in seen_by_de}
    de_view = {(entry["action"], entry["object_id"]) for entry in seen_by_de}
    assert {
        ("request.submitted", to_de),
        ("request.read", to_de),
        ("request.acknowledged", to_de),
    } <= de_view
    (refusal,) = [e for e in seen_by_de if e["action"] == "access.refused"]
    assert refusal["countries"] == ["DE", "FR"]
    assert refusal["actor_country"] == "JP"
    assert refusal["details"]["object_side"] is True
    # What the network-wide auditor sees of DE is exactly what DE's auditor sees.
    network_view_of_de = [
        entry["id"] for entry in everything if entry["countries"] and "DE" in entry["countries"]
    ]
    assert network_view_of_de == [entry["id"] for entry in seen_by_de][: len(network_view_of_de)]


@pytest.mark.parametrize("who", ["national auditor of another country", "contact point", "gs"])
async def test_who_may_not_read_the_trail_is_refused(
    server: RunningServer, world: World, database: Any, who: str
) -> None:
    de_auditor = await make_national_auditor(database, world, "DE")
    party, params = {
        "national auditor of another country": (de_auditor, {"country": "JP"}),
        "contact point": (world.desk("DE"), {}),
        "gs": (world.gs, {}),
    }[who]
    async with http(server.http) as client:
        response = await client.get("/v1/audit/entries", params=params, headers=party.headers)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "audit" in response.json()["detail"]


async def test_pages_follow_the_chain_and_listing_is_audited(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        for _ in range(3):
            await exchange(client, world, "FR", "DE")
        await all_sealed(db)
        sealed = await db.fetchval("SELECT count(*) FROM audit_entries")
        paged = await read_all(client, world.auditor, limit=4)
        positions = [entry["chain_position"] for entry in paged if entry["sealed"]]
        assert positions[: int(sealed)] == list(range(1, int(sealed) + 1))

        # The reads themselves are entries, sealed after them: a resumed read finds them.
        first = await client.get(
            "/v1/audit/entries", params={"limit": 200}, headers=world.auditor.headers
        )
        resume = first.json()["resume_cursor"]
        await all_sealed(db)
        later = await client.get(
            "/v1/audit/entries", params={"cursor": resume}, headers=world.auditor.headers
        )
    listed = [entry for entry in later.json()["items"] if entry["action"] == "audit.listed"]
    assert listed, later.text
    assert listed[-1]["actor_principal_id"] == str(world.auditor.principal_id)
    assert listed[-1]["object_type"] == "audit"


async def test_filters_narrow_the_trail(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = await exchange(client, world, "FR", "DE")
        posted = await client.post(
            f"/v1/requests/{request_id}/messages",
            json={"text": "preserved"},
            headers=world.desk("DE").headers,
        )
        assert posted.status_code in (200, 201), posted.text
        await exchange(client, world, "JP", "FR")
        await all_sealed(db)
        about = await read_all(client, world.auditor, request_id=request_id)
        acks = await read_all(client, world.auditor, action="request.acknowledged")
        by_desk = await read_all(
            client, world.auditor, principal_id=str(world.desk("DE").principal_id)
        )
        future = await read_all(client, world.auditor, since="9999-12-31T00:00:00Z")
    assert {entry["action"] for entry in about} >= {
        "request.submitted",
        "request.read",
        "request.acknowledged",
        "message.posted",
    }
    assert all(
        entry["object_id"] == request_id or entry["details"].get("request_id") == request_id
        for entry in about
    )
    assert len(acks) == 2
    assert {entry["actor_principal_id"] for entry in by_desk} == {
        str(world.desk("DE").principal_id)
    }
    assert future == []


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "eyJzIjogLTF9"},  # {"s": -1}
        {"cursor": "eyJzIjogOTIyMzM3MjAzNjg1NDc3NTgwOH0"},  # past bigint
        {"cursor": "not a cursor\x00"},
        {"action": "request.read\x00"},
        {"action": "x" * 65},
        {"since": "2026-11-23T10:00:00"},  # no offset
        {"until": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"country": "de"},
        {"request_id": "not-a-uuid"},
        {"limit": "0"},
    ],
)
async def test_bad_parameters_are_422_problems(
    server: RunningServer, world: World, params: dict[str, str]
) -> None:
    async with http(server.http) as client:
        response = await client.get(
            "/v1/audit/entries", params=params, headers=world.auditor.headers
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_unknown_request_or_principal_gives_an_empty_page(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        for name in ("request_id", "principal_id", "agency_id"):
            items = await read_all(client, world.auditor, **{name: str(uuid.uuid4())})
            assert items == []


async def test_an_entry_sealed_while_listed_is_still_listed(
    server: RunningServer, world: World
) -> None:
    """The sealer seals entries a few milliseconds after their commit, so a list read at that
    moment must still show the entry, sealed or not (once, a read in two statements missed
    an entry sealed between them under load)."""
    async with http(server.http) as client:
        for _ in range(60):
            created = await submit_request(client, world.unit("FR"), "DE")
            answer = await client.get(
                "/v1/audit/entries",
                params={"request_id": created["id"], "action": "request.submitted"},
                headers=world.auditor.headers,
            )
            assert answer.status_code == 200
            assert [entry["object_id"] for entry in answer.json()["items"]] == [created["id"]]


async def test_newest_first_pages_go_back_along_the_chain_after_the_unsealed(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        for _ in range(3):
            await exchange(client, world, "FR", "DE")
        await all_sealed(db)
        sealed = int(await db.fetchval("SELECT count(*) FROM audit_entries"))
        paged = await read_all(client, world.auditor, limit=4, order="newest")
    # The first page's own listing is not sealed yet when the next pages are read: each page
    # is newest first, and together they hold the whole chain once, from its end back.
    positions = [entry["chain_position"] for entry in paged if entry["sealed"]]
    assert positions[:sealed] == list(range(sealed, 0, -1))
    assert len(positions) == len(set(positions))
    times = [entry["occurred_at"] for entry in paged[:4]]
    assert times == sorted(times, reverse=True)
