"""Idempotency-Key: retries give the first answer again and make exactly one request."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World, request_body


async def test_retry_with_same_key_and_body_gets_the_first_answer(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    headers = {**world.unit("FR").headers, "Idempotency-Key": "case-2026-0001"}
    async with http(server.http) as client:
        first = await client.post("/v1/requests", json=request_body(), headers=headers)
        # Same body, other key order and whitespace: still the same body.
        second = await client.post(
            "/v1/requests",
            content=json.dumps(dict(reversed(request_body().items())), indent=2),
            headers={**headers, "Content-Type": "application/json"},
        )
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await db.fetchval("SELECT count(*) FROM requests") == 1
    assert await db.fetchval("SELECT count(*) FROM events") == 1


async def test_same_key_with_another_body_is_refused(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    headers = {**world.unit("FR").headers, "Idempotency-Key": "case-2026-0002"}
    async with http(server.http) as client:
        await client.post("/v1/requests", json=request_body(), headers=headers)
        other = await client.post(
            "/v1/requests", json=request_body(subject="something else"), headers=headers
        )
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "different body" in other.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM requests") == 1


async def test_keys_belong_to_one_agency(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        for country in ("FR", "JP"):
            response = await client.post(
                "/v1/requests",
                json=request_body(),
                headers={**world.unit(country).headers, "Idempotency-Key": "shared-key"},
            )
            assert response.status_code == 201
    assert await db.fetchval("SELECT count(*) FROM requests") == 2


async def test_twenty_concurrent_retries_make_exactly_one_request(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    headers = {**world.unit("FR").headers, "Idempotency-Key": "storm"}
    async with http(server.http) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/requests", json=request_body(), headers=headers) for _ in range(20))
        )
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert await db.fetchval("SELECT count(*) FROM requests") == 1
    assert await db.fetchval("SELECT count(*) FROM events") == 1
    assert (
        await db.fetchval("SELECT count(*) FROM audit_entries WHERE action = 'request.submitted'")
        == 1
    )


async def test_an_answer_stored_by_an_older_relay247_is_replayed_with_todays_fields(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """Keys never expire: a retry after an upgrade finds an answer without the fields added
    since (here all of issue 6's and 7's); it gets them from the request as it stands."""
    headers = {**world.unit("FR").headers, "Idempotency-Key": "case-before-upgrade"}
    added_since = [
        "assigned_to",
        "assignment",
        "assigned_at",
        "warnings",
        "version",
        "retention_days",
        "retain_until",
        "closed_at",
        "legal_hold",
        "purged_at",
        "handling_note",
        "ack_due_at",
        "response_due_at",
    ]
    async with http(server.http) as client:
        first = await client.post("/v1/requests", json=request_body(), headers=headers)
        await db.execute(
            "UPDATE idempotency_keys SET response = response - $1::text[]", added_since
        )
        again = await client.post("/v1/requests", json=request_body(), headers=headers)
    assert again.status_code == 201, again.text
    replayed = again.json()
    assert replayed["warnings"] == []
    assert {k: v for k, v in replayed.items() if k != "warnings"} == {
        k: v for k, v in first.json().items() if k != "warnings"
    }
