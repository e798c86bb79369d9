"""A request's headline (metadata its sender writes: listed, pushed, never content) and the
all-requests search: GET /v1/requests with q, assigned_to_me and content=false."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.core.database import Database
from tests.audit_trail import entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World, make_contact_point, request_body

HEADLINE = "Ransomware on a hospital: preserve the negotiation mailbox"


async def _found(client: httpx.AsyncClient, reader: Party, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/requests", params=params, headers=reader.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    ("headline", "why"),
    [
        ("x" * 121, "at most 120"),
        ("Ransomware\x00", "NUL"),
        ("Ransomware\non a hospital", "one line"),
        ("Tab\there", "one line"),
        ("C1 control \x85 here", "one line"),
        (42, "string"),
        (["a list"], "string"),
        ("   ", "at least 1"),
    ],
)
async def test_a_headline_that_is_not_one_short_line_is_refused(
    server: RunningServer, world: World, headline: object, why: str
) -> None:
    async with http(server.http) as client:
        response = await client.post(
            "/v1/requests",
            json=request_body("DE", headline=headline),
            headers=world.unit("FR").headers,
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert why.lower() in response.text.lower()
    assert "headline" in response.text


async def test_the_headline_is_metadata_listed_pushed_and_outside_the_content_hash(
    server: RunningServer, world: World, database: Database
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    async with http(server.http) as client:
        plain = await submit_request(client, world.unit("FR"), "DE")
        titled = await submit_request(client, world.unit("FR"), "DE", headline=f"  {HEADLINE} ")
        assert titled["headline"] == HEADLINE  # trimmed
        assert plain["headline"] is None
        # Same content, same hash: the headline is not content.
        assert titled["content_hash"] == plain["content_hash"]
        assert "headline" not in titled["content"]

        pushed = await desk.receive_event("request.assigned")
        if pushed["data"]["request_id"] != titled["id"]:
            pushed = await desk.receive_event("request.assigned")
        assert pushed["data"]["headline"] == HEADLINE

        reads_before = len(await entries(database, "request.read"))
        # An auditor sees it (metadata), and neither they nor a desk glancing at a list
        # (content=false) leave an audited read of content.
        by_auditor = await _found(client, world.auditor)
        by_desk = await _found(client, world.desk("DE"), content="false")
        assert {item["headline"] for item in by_auditor} == {HEADLINE, None}
        assert [item["headline"] for item in by_desk] == [HEADLINE, None]
        assert all(item["content"] is None for item in by_desk)
        assert len(await entries(database, "request.read")) == reads_before

        # The full list still reads (and audits) the content, as before.
        with_content = await _found(client, world.desk("DE"))
        assert with_content[0]["content"]["subject"]
        assert len(await entries(database, "request.read")) == reads_before + 2

        detail = await client.get(f"/v1/requests/{titled['id']}", headers=world.desk("DE").headers)
        assert detail.json()["headline"] == HEADLINE
    await desk.close()


async def test_an_idempotent_replay_with_another_headline_is_a_conflict(
    server: RunningServer, world: World
) -> None:
    headers = {**world.unit("FR").headers, "Idempotency-Key": f"case-{uuid.uuid4()}"}
    async with http(server.http) as client:
        first = await client.post(
            "/v1/requests", json=request_body("DE", headline=HEADLINE), headers=headers
        )
        assert first.status_code == 201, first.text
        same = await client.post(
            "/v1/requests", json=request_body("DE", headline=HEADLINE), headers=headers
        )
        assert same.status_code == 201
        assert same.json()["id"] == first.json()["id"]
        other = await client.post(
            "/v1/requests", json=request_body("DE", headline="Another line"), headers=headers
        )
        assert other.status_code == 422, other.text
        assert "different body" in other.json()["detail"]
        none = await client.post("/v1/requests", json=request_body("DE"), headers=headers)
        assert none.status_code == 422, none.text


async def test_q_finds_headline_words_and_ids_only_within_what_the_reader_sees(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        to_de = await submit_request(client, world.unit("FR"), "DE", headline=HEADLINE)
        to_jp = await submit_request(client, world.unit("FR"), "JP", headline=HEADLINE)
        await submit_request(client, world.unit("FR"), "DE", headline="Phishing kit hosting")
        await submit_request(client, world.unit("FR"), "DE", headline="100% off: 50_50 scam")

        async def ids(reader: Party, q: str, **params: Any) -> set[str]:
            return {item["id"] for item in await _found(client, reader, q=q, **params)}

        de = world.desk("DE")
        assert await ids(de, "ransomware") == {to_de["id"]}
        assert await ids(de, "RANSOM hosp") == {to_de["id"]}  # word starts, any case
        assert await ids(de, "hospital phishing") == set()  # every word must match
        assert await ids(de, "somware") == set()  # words, not substrings
        assert await ids(world.gs, "ransomware") == {to_de["id"], to_jp["id"]}
        # Another country's request is never found, by words or by its id.
        assert await ids(de, to_jp["id"]) == set()
        assert await ids(world.desk("JP"), to_jp["id"].upper()) == {to_jp["id"]}
        assert await ids(world.desk("JP"), "ransomware") == {to_jp["id"]}
        assert await ids(world.unit("JP"), "ransomware") == set()
        # No letters or digits: the text itself, LIKE's wildcards taken literally.
        assert len(await ids(de, "%")) == 1
        assert await ids(de, "_") == await ids(de, "%")
        assert len(await ids(de, "'\\:*&|!")) == 0
        assert len(await ids(de, "   ")) == 3  # blank: no search


@pytest.mark.parametrize(("q", "why"), [("a\x00b", "NUL"), ("x" * 121, "at most 120")])
async def test_a_bad_q_is_a_problem_not_a_500(
    server: RunningServer, world: World, q: str, why: str
) -> None:
    async with http(server.http) as client:
        response = await client.get(
            "/v1/requests", params={"q": q}, headers=world.desk("DE").headers
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert why.lower() in response.text.lower()


async def test_assigned_to_me_lists_what_i_hold_and_pages_with_the_filters(
    server: RunningServer, world: World, database: Database
) -> None:
    colleague = await make_contact_point(database, world, "DE", "Night officer")
    async with http(server.http) as client:
        held = [
            (await submit_request(client, world.unit("FR"), "DE", headline=f"Case {n}"))["id"]
            for n in range(5)
        ]
        # Nobody is on duty in this world: the global desk hands them out.
        for index, request_id in enumerate(held):
            holder = colleague if index == 1 else world.desk("DE")
            handed = await client.post(
                f"/v1/requests/{request_id}/assign",
                json={"principal_id": str(holder.principal_id)},
                headers=world.gs.headers,
            )
            assert handed.status_code == 200, handed.text
        mine = {
            item["id"] for item in await _found(client, world.desk("DE"), assigned_to_me="true")
        }
        assert mine == set(held) - {held[1]}
        assert [i["id"] for i in await _found(client, colleague, assigned_to_me="true")] == [
            held[1]
        ]
        assert await _found(client, world.unit("FR"), assigned_to_me="true") == []
        bad = await client.get(
            "/v1/requests", params={"assigned_to_me": "maybe"}, headers=world.desk("DE").headers
        )
        assert bad.status_code == 422

        # Two a page, with the filters given again with each cursor: every match once.
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"assigned_to_me": "true", "q": "case", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = await client.get("/v1/requests", params=params, headers=world.desk("DE").headers)
            assert page.status_code == 200, page.text
            seen += [item["id"] for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
    assert seen == [request_id for request_id in reversed(held) if request_id != held[1]]
