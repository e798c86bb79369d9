"""Idempotency-Key: retries give the first answer again and make exactly one request."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import asyncpg
import pytest
from alembic import command

from app.core.database import Database
from app.core.database.migrate import alembic_config
from app.retention.job import sweep_batch
from tests.clients import http, submit_request
from tests.conftest import RunningServer, free_port, running_server
from tests.factories import World, request_body
from tests.processes import environment, serving
from tests.waiting import eventually


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
    # The replay showed the content again: a read, audited as a GET's.
    reads = "SELECT count(*) FROM audit_entries WHERE action = 'request.read'"
    assert await db.fetchval(reads) == 1


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


async def test_the_key_keeps_no_content_and_a_retry_shows_the_request_as_it_stands(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """The key's row holds the request's id and the body's hash; the retry's answer is drawn
    from the request, so it is what a GET would show the sender now."""
    headers = {**world.unit("FR").headers, "Idempotency-Key": "case-2026-0003"}
    async with http(server.http) as client:
        first = await client.post("/v1/requests", json=request_body(), headers=headers)
        request_id = first.json()["id"]
        ack = await client.post(f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers)
        assert ack.status_code == 200, ack.text
        again = await client.post("/v1/requests", json=request_body(), headers=headers)
        shown = await client.get(f"/v1/requests/{request_id}", headers=world.unit("FR").headers)
    assert again.status_code == 201
    assert again.json()["id"] == request_id
    assert again.json()["content"] == first.json()["content"]
    assert again.json()["warnings"] == first.json()["warnings"]
    assert again.json()["status"] == shown.json()["status"] == "acknowledged"
    [row] = await db.fetch("SELECT to_jsonb(k) AS row FROM idempotency_keys AS k")
    stored = json.loads(row["row"])
    assert stored["request_id"] == request_id
    for content in ("negotiator@example.org", "Budapest", "ransomware"):
        assert content not in row["row"]


async def test_a_key_past_its_lifetime_is_a_new_key(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """Honoured for RELAY247_IDEMPOTENCY_KEY_LIFETIME (24 h) from its first use, then new:
    the same body makes a new request, another body is no conflict."""
    headers = {**world.unit("FR").headers, "Idempotency-Key": "case-2026-0004"}
    async with http(server.http) as client:
        first = await client.post("/v1/requests", json=request_body(), headers=headers)
        await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '23 hours'")
        within = await client.post("/v1/requests", json=request_body(), headers=headers)
        await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        after = await client.post("/v1/requests", json=request_body(), headers=headers)
        await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        other = await client.post(
            "/v1/requests", json=request_body(subject="another case"), headers=headers
        )
    assert within.headers["idempotent-replayed"] == "true"
    assert within.json()["id"] == first.json()["id"]
    assert after.status_code == other.status_code == 201
    assert "idempotent-replayed" not in after.headers
    assert len({first.json()["id"], after.json()["id"], other.json()["id"]}) == 3
    assert await db.fetchval("SELECT count(*) FROM requests") == 3
    assert await db.fetchval("SELECT request_id FROM idempotency_keys") == uuid.UUID(
        other.json()["id"]
    )


@pytest.mark.slow
async def test_the_purge_job_sweeps_expired_keys(
    world: World, db: asyncpg.Connection, database: Database, database_url: str
) -> None:
    """The retention job of a running instance deletes the keys past their lifetime (here
    set to an hour) and leaves the others."""
    env = environment(
        DATABASE_URL=database_url,
        RELAY247_PURGE_INTERVAL="0.2",
        RELAY247_IDEMPOTENCY_KEY_LIFETIME="3600",
    )
    async with serving(free_port(), env) as base, http(base) as client:
        for key in ("old-1", "old-2", "fresh"):
            response = await client.post(
                "/v1/requests",
                json=request_body(),
                headers={**world.unit("FR").headers, "Idempotency-Key": key},
            )
            assert response.status_code == 201
        await db.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '61 minutes' "
            "WHERE key LIKE 'old-%'"
        )

        async def swept() -> bool:
            keys = await db.fetch("SELECT key FROM idempotency_keys")
            return [row["key"] for row in keys] == ["fresh"]

        await eventually(swept)


async def test_a_sweep_deletes_in_batches_and_only_what_expired(
    world: World, db: asyncpg.Connection, database: Database, server: RunningServer
) -> None:
    async with http(server.http) as client:
        for n in range(5):
            await client.post(
                "/v1/requests",
                json=request_body(),
                headers={**world.unit("FR").headers, "Idempotency-Key": f"key-{n}"},
            )
    await db.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '2 days' WHERE key <> 'key-4'"
    )
    lifetime = timedelta(hours=24)
    assert await sweep_batch(database, lifetime=lifetime, limit=3) == 3
    assert await sweep_batch(database, lifetime=lifetime, limit=3) == 1
    assert await sweep_batch(database, lifetime=lifetime, limit=3) == 0
    assert [r["key"] for r in await db.fetch("SELECT key FROM idempotency_keys")] == ["key-4"]


async def test_migration_0013_keeps_which_request_a_key_made_and_drops_its_answer(
    world: World, db: asyncpg.Connection, database_url: str
) -> None:
    """A key stored by an older relay247 held the whole first answer, content and all: the
    upgrade keeps the request's id and warnings, and nothing else of it."""
    async with running_server(database_url) as running, http(running.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE")
    config = alembic_config(database_url)
    # Below 0020 no principal may be a partner (its downgrade refuses them): the world's are
    # made admins of their agencies for the trip down and back.
    await db.execute("UPDATE principals SET role = 'admin' WHERE role = 'partner'")
    await asyncio.to_thread(command.downgrade, config, "0012")
    try:
        answer = {**created, "warnings": ["expect questions"]}
        await db.execute(
            "INSERT INTO idempotency_keys (agency_id, key, body_hash, status_code, response) "
            "VALUES ($1, 'before-0013', repeat('0', 64), 201, $2::jsonb), "
            "($1, 'in-flight', repeat('1', 64), 0, '{}')",
            world.unit("FR").agency_id,
            json.dumps(answer),
        )
    finally:
        await asyncio.to_thread(command.upgrade, config, "head")
    rows = await db.fetch("SELECT to_jsonb(k)::text AS row FROM idempotency_keys AS k")
    [row] = [json.loads(r["row"]) for r in rows]
    assert row["request_id"] == created["id"]
    assert row["warnings"] == ["expect questions"]
    assert created["content"]["subject"] not in rows[0]["row"]
