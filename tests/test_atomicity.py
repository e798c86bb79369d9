"""A use case commits its change, event and audit entry together or not at all; audit
entries cannot be changed or removed."""

from __future__ import annotations

import asyncpg
import pytest

from tests.clients import Dashboard, http
from tests.conftest import RunningServer
from tests.factories import World, request_body
from tests.faults import inserts_refused


async def test_a_failure_at_the_last_write_leaves_nothing_behind(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    # Making the world wrote audit entries of its own (agencies, principals, tokens).
    audited_before = await db.fetchval("SELECT count(*) FROM audit_entries")
    # The event insert is the last write of a submission: make Postgres refuse it.
    async with inserts_refused(db, "events"), http(server.http) as client:
        response = await client.post(
            "/v1/requests",
            json=request_body(),
            headers={**world.unit("FR").headers, "Idempotency-Key": "k"},
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "nothing was changed" in response.json()["detail"]
    for table in ("requests", "events", "idempotency_keys"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    assert await db.fetchval("SELECT count(*) FROM audit_entries") == audited_before
    await desk.assert_silent()
    await desk.close()


async def test_failed_acknowledgement_changes_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = (
            await client.post("/v1/requests", json=request_body(), headers=world.unit("FR").headers)
        ).json()["id"]
        async with inserts_refused(db, "audit_entries", "audit store down"):
            response = await client.post(
                f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers
            )
    assert response.status_code == 500
    assert await db.fetchval("SELECT status FROM requests") == "submitted"
    assert await db.fetchval("SELECT count(*) FROM events") == 1  # the assignment only


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_entries SET action = 'nothing'", "DELETE FROM audit_entries"],
)
async def test_audit_entries_are_append_only(
    server: RunningServer, world: World, db: asyncpg.Connection, statement: str
) -> None:
    async with http(server.http) as client:
        await client.post("/v1/requests", json=request_body(), headers=world.unit("FR").headers)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(statement)
    assert (
        await db.fetchval("SELECT action FROM audit_entries WHERE object_type = 'request'")
        == "request.submitted"
    )
