"""The request REST API: submit, read, list with filters and cursors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg

from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World, request_body


async def test_submit_returns_the_request_and_where_it_lives(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        response = await client.post(
            "/v1/requests", json=request_body("DE"), headers=world.unit("FR").headers
        )
        assert response.status_code == 201
        created = response.json()
        assert response.headers["location"] == f"/v1/requests/{created['id']}"
        assert created["status"] == "submitted"
        assert created["requesting_country"] == "FR"
        assert created["target_country"] == "DE"
        assert created["requesting_agency_id"] == str(world.unit("FR").agency_id)
        assert created["content"]["identifiers"][1] == {"kind": "ip", "value": "203.0.113.7"}
        assert len(created["content_hash"]) == 64

        # Readable at once: the transaction committed before the 201 went out.
        fetched = await client.get(response.headers["location"], headers=world.desk("DE").headers)
    assert fetched.status_code == 200
    # Only the 201 of POST carries warnings: they are about the submission, not the request.
    assert created.pop("warnings") == []
    # Only the single GET shows the escalation history, and what the reader may do now (the
    # target desk: acknowledge or decline; `receive` is its screen's own confirmation).
    shown = fetched.json()
    assert shown.pop("requester")["agency_name"] == "FR unit"
    assert shown == {
        **created,
        "escalations": [],
        "allowed_actions": ["receive", "acknowledge", "decline"],
        "may_assign": True,
        "may_take_part": True,
    }


async def test_auditor_sees_metadata_and_hash_but_no_content(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"))
        seen = await client.get(f"/v1/requests/{created['id']}", headers=world.auditor.headers)
    assert seen.status_code == 200
    assert seen.json()["content"] is None
    assert seen.json()["content_hash"] == created["content_hash"]


async def test_list_pages_through_everything_once_newest_first(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        ids = []
        for n in range(7):
            response = await client.post(
                "/v1/requests",
                json=request_body("DE", subject=f"request {n}"),
                headers=world.unit("FR").headers,
            )
            ids.append(response.json()["id"])
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get("/v1/requests", params=params, headers=world.desk("DE").headers)
            ).json()
            seen += [item["id"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == list(reversed(ids))
    assert pages == 3


async def test_list_filters(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        for target, priority, kind in (
            ("DE", "emergency", "emergency_disclosure"),
            ("DE", "routine", "preservation"),
            ("JP", "routine", "preservation"),
        ):
            await client.post(
                "/v1/requests",
                json=request_body(target, priority=priority, type=kind),
                headers=world.unit("FR").headers,
            )

        async def count(**params: str | list[str]) -> int:
            response = await client.get("/v1/requests", params=params, headers=world.gs.headers)
            assert response.status_code == 200, response.text
            return len(response.json()["items"])

        assert await count() == 3
        assert await count(target_country="DE") == 2
        assert await count(priority="emergency") == 1
        assert await count(priority=["emergency", "routine"]) == 3
        assert await count(type="preservation", target_country="JP") == 1
        assert await count(status="acknowledged") == 0
        assert await count(requesting_country="FR") == 3
        assert await count(created_after="2999-01-01T00:00:00Z") == 0
        assert await count(created_before="2999-01-01T00:00:00Z") == 3


async def test_list_filters_what_needs_attention(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        created = {
            name: (await submit_request(client, world.unit("FR")))["id"]
            for name in ("calm", "escalated", "overdue", "breached", "escalated_closed")
        }
        # As the deadline worker leaves them (its timing is test_escalation.py's to test).
        for name, change in (
            ("escalated", "escalation_step = 1"),
            ("overdue", "escalation_step = 3, overdue_at = now()"),
            ("breached", "response_breached_at = now()"),
            ("escalated_closed", "escalation_step = 1, status = 'closed', closed_at = now()"),
        ):
            # Fixed snippets of this test, never input.
            await db.execute(f"UPDATE requests SET {change} WHERE id = $1", created[name])  # noqa: S608

        async def listed(**params: str | list[str]) -> set[str]:
            response = await client.get("/v1/requests", params=params, headers=world.gs.headers)
            assert response.status_code == 200, response.text
            return {item["id"] for item in response.json()["items"]}

        def ids(*names: str) -> set[str]:
            return {created[name] for name in names}

        assert await listed(attention="escalated") == ids(
            "escalated", "overdue", "escalated_closed"
        )
        assert await listed(attention="overdue") == ids("overdue", "breached")
        assert await listed(attention=["escalated", "overdue"]) == ids(
            "escalated", "overdue", "breached", "escalated_closed"
        )
        assert await listed(attention=["escalated", "overdue"], status="submitted") == ids(
            "escalated", "overdue", "breached"
        )
        # The filter narrows what one may see, never widens it.
        response = await client.get(
            "/v1/requests", params={"attention": "overdue"}, headers=world.desk("JP").headers
        )
        assert response.json()["items"] == []

        bad = await client.get(
            "/v1/requests", params={"attention": "late"}, headers=world.gs.headers
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")


async def test_reads_of_content_are_audited(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"))
        await client.get(f"/v1/requests/{created['id']}", headers=world.desk("DE").headers)
        await client.get("/v1/requests", headers=world.gs.headers)
        await client.get(f"/v1/requests/{created['id']}", headers=world.auditor.headers)
    rows = await db.fetch(
        "SELECT action, actor_principal_id, content_hash FROM audit_entries "
        "WHERE object_id = $1 ORDER BY id",
        created["id"],
    )
    assert [(r["action"], r["actor_principal_id"]) for r in rows] == [
        ("request.submitted", world.unit("FR").principal_id),
        ("request.read", world.desk("DE").principal_id),
        ("request.read", world.gs.principal_id),
        # The auditor saw no content: nothing to record as a read of it.
    ]
    assert {r["content_hash"] for r in rows} == {created["content_hash"]}


async def test_submit_with_a_chunked_body_under_the_limit(
    server: RunningServer, world: World
) -> None:
    body = json.dumps(request_body("DE")).encode()

    async def pieces() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    async with http(server.http) as client:
        response = await client.post(
            "/v1/requests",
            content=pieces(),
            headers={**world.unit("FR").headers, "Content-Type": "application/json"},
        )
    assert response.status_code == 201, response.text
    assert response.json()["content"]["subject"] == request_body()["subject"]


async def test_a_null_handling_note_is_no_note(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), handling_note=None)
    assert created["handling_note"] is None
