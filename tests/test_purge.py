"""The purge: content past its retention goes, the record of the exchange stays.

Messages and files are written as rows here (their APIs are built elsewhere); requests are
made over the API and expired by moving their closed_at into the past.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from app.core.canonical import sha256_hex
from app.core.database import Database
from app.exchange.files.storage import CHUNK_BYTES, blob_store
from app.models import EvidenceFile, Message
from app.models.enums import HandlingCode, RequestAction, RequestStatus, Role, Side
from app.retention.job import PURGE_LOCK, purge_batch
from app.retention.purge import PurgeReport, purge_due
from tests.audit_trail import entries
from tests.cli_runner import invoke
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer, free_port
from tests.factories import Party, World
from tests.processes import environment, serving

MESSAGE = "The suspect's second mailbox is on the same provider"
CLOSING_REASON = "Suspect arrested; the case goes to trial"
# Retention of a preservation request (request_body's type): 90 days.
EXPIRED = 91
NOT_YET = 10


# --- building the exchange ----------------------------------------------------------------


async def expire(db: asyncpg.Connection, request_id: str, *, days_ago: int = EXPIRED) -> None:
    """Close the request ``days_ago`` days back, with a reason on the closing transition."""
    rid = uuid.UUID(request_id)
    await db.execute(
        "UPDATE requests SET status = 'closed', closed_at = now() - make_interval(days => $2) "
        "WHERE id = $1",
        rid,
        days_ago,
    )
    await db.execute(
        "INSERT INTO request_transitions (request_id, action, from_status, to_status, side, "
        "reason, at) VALUES ($1, $2, 'submitted', $3, 'requester', $4, now())",
        rid,
        RequestAction.CLOSE.value,
        RequestStatus.CLOSED.value,
        CLOSING_REASON,
    )


async def add_message(database: Database, request_id: str, author: Party, seq: int) -> None:
    async with database.transaction() as session:
        session.add(
            Message(
                request_id=uuid.UUID(request_id),
                seq=seq,
                side=Side.REQUESTER if author.role is Role.UNIT else Side.TARGET,
                author_principal_id=author.principal_id,
                author_agency_id=author.agency_id,
                text=MESSAGE,
                text_hash=sha256_hex(MESSAGE),
                handling_code=HandlingCode.AMBER,
                onward_use=["H2"],
            )
        )


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


async def add_file(
    database: Database,
    request_id: str,
    owner: Party,
    data: bytes = b"%PDF-1.7 evidence",
    *,
    shared_from: uuid.UUID | None = None,
) -> tuple[uuid.UUID, str]:
    """A file of the request, and its storage key; ``shared_from`` re-shares an existing
    file (same bytes, same key) instead of storing new ones."""
    async with database.transaction() as session:
        if shared_from is None:
            key = await blob_store(database).put(session, _chunks(data))
        else:
            original = await session.get_one(EvidenceFile, shared_from)
            assert original.storage_key is not None
            key = original.storage_key
        file = EvidenceFile(
            request_id=uuid.UUID(request_id),
            side=Side.REQUESTER if owner.role is Role.UNIT else Side.TARGET,
            uploaded_by=owner.principal_id,
            agency_id=owner.agency_id,
            name="mailbox-export.pdf",
            content_type="application/pdf",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            handling_code=HandlingCode.AMBER,
            onward_use=["H2"],
            storage_key=key,
            shared_from=shared_from,
        )
        session.add(file)
        await session.flush()
        return file.id, key


async def exchange(
    client: httpx.AsyncClient, database: Database, world: World, *, files: int = 1
) -> dict[str, Any]:
    """A request FR sent to DE, with a message from each side and ``files`` files."""
    created = await submit_request(client, world.unit("FR"), "DE")
    await add_message(database, created["id"], world.unit("FR"), 1)
    await add_message(database, created["id"], world.desk("DE"), 2)
    for n in range(files):
        await add_file(database, created["id"], world.unit("FR"), f"evidence {n}".encode())
    return created


async def purge(database: Database, *, dry_run: bool = False, limit: int = 100) -> PurgeReport:
    async with database.transaction() as session:
        return await purge_due(session, blob_store(database), limit=limit, dry_run=dry_run)


async def chunk_count(db: asyncpg.Connection, key: str) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM blob_chunks WHERE storage_key = $1", key)
    return count


async def snapshot(db: asyncpg.Connection) -> list[Any]:
    """Everything a purge could change. Audit entries without their chain columns: the
    running server's sealer may seal an entry between two snapshots, which is no change of
    the purge's."""
    return [
        await db.fetch(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 (fixed names)
        for table in (
            "requests",
            "messages",
            "files",
            "request_transitions",
            "events",
            "channels",
        )
    ] + [
        await db.fetch(
            "SELECT to_jsonb(a) - '{chain_position,chain_hash,sealed_at}'::text[] "
            "FROM audit_entries AS a ORDER BY id"
        ),
        await db.fetch("SELECT storage_key, seq FROM blob_chunks ORDER BY 1, 2"),
    ]


# --- what goes and what stays ---------------------------------------------------------------


async def test_expired_content_goes_and_the_record_stays(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        created = await exchange(client, database, world)
        request_id = created["id"]
        rid = uuid.UUID(request_id)
        await client.get(f"/v1/requests/{request_id}", headers=world.unit("FR").headers)
        await expire(db, request_id)
        [key] = [r["storage_key"] for r in await db.fetch("SELECT storage_key FROM files")]
        [sha256] = [r["sha256"] for r in await db.fetch("SELECT sha256 FROM files")]
        trail_before = [(e.id, e.action) for e in await entries(database)]
        transitions_before = await db.fetch(
            "SELECT id, action, to_status, at FROM request_transitions ORDER BY id"
        )
        sender = await Dashboard.open(server.ws, world.unit("FR"))
        desk = await Dashboard.open(server.ws, world.desk("DE"))

        report = await purge(database)

        [purged] = report.requests
        assert (purged.request_id, purged.messages, purged.files) == (rid, 2, 1)
        assert report.blobs_deleted == 1
        shown = (
            await client.get(f"/v1/requests/{request_id}", headers=world.unit("FR").headers)
        ).json()
        for dashboard in (sender, desk):
            event = await dashboard.receive_event("request.updated")
            assert event["data"]["request_id"] == request_id
            assert event["data"]["purged_at"] is not None
            assert MESSAGE not in str(event)
            assert created["content"]["subject"] not in str(event)
            await dashboard.close()

    assert shown["content"] is None
    assert shown["purged_at"] is not None
    assert shown["version"] == created["version"] + 1
    assert shown["content_hash"] == created["content_hash"]
    row = await db.fetchrow("SELECT * FROM requests WHERE id = $1", rid)
    assert [row[c] for c in ("subject", "details", "identifiers", "legal_basis")] == [None] * 4
    messages = await db.fetch("SELECT text, text_hash, purged_at FROM messages")
    assert len(messages) == 2
    for message in messages:
        assert message["text"] is None
        assert message["purged_at"] is not None
        assert message["text_hash"] == sha256_hex(MESSAGE)
    file = await db.fetchrow("SELECT storage_key, sha256, purged_at, name FROM files")
    assert file["storage_key"] is None
    assert file["purged_at"] is not None
    assert file["sha256"] == sha256
    assert file["name"] is None  # a name often names a person
    assert await chunk_count(db, key) == 0
    transitions = await db.fetch("SELECT * FROM request_transitions ORDER BY id")
    assert [(t["id"], t["action"], t["to_status"], t["at"]) for t in transitions] == [
        tuple(t) for t in transitions_before
    ]
    assert all(t["reason"] is None for t in transitions)

    trail = await entries(database)
    assert [(e.id, e.action) for e in trail[: len(trail_before)]] == trail_before
    [entry] = [e for e in trail if e.action == "request.purged"]
    assert entry.actor_principal_id is None
    assert entry.object_id == request_id
    assert entry.content_hash == created["content_hash"]
    assert entry.details == {
        "messages_purged": 2,
        "files_purged": 1,
        "retention_days": 90,
        "closed_at": row["closed_at"].isoformat(),
    }


async def test_held_request_is_kept_until_the_hold_is_lifted(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    fr_ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        request_id = (await exchange(client, database, world))["id"]
        await expire(db, request_id)
        path = f"/v1/requests/{request_id}/legal-hold"
        held = await client.put(path, json={"reason": "Trial in March"}, headers=fr_ncb.headers)
        assert held.status_code == 200

        assert (await purge(database)).requests == []
        assert await db.fetchval("SELECT count(*) FROM messages WHERE text IS NOT NULL") == 2

        assert (await client.delete(path, headers=fr_ncb.headers)).status_code == 200
        [purged] = (await purge(database)).requests
    assert str(purged.request_id) == request_id
    assert await db.fetchval("SELECT count(*) FROM messages WHERE text IS NOT NULL") == 0


async def test_requests_within_their_retention_or_still_open_are_kept(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        recent = (await exchange(client, database, world))["id"]
        await exchange(client, database, world)  # never closed
        expired = (await exchange(client, database, world))["id"]
    await expire(db, recent, days_ago=NOT_YET)
    await expire(db, expired)
    report = await purge(database)
    assert [str(item.request_id) for item in report.requests] == [expired]
    assert await db.fetchval("SELECT count(*) FROM requests WHERE subject IS NOT NULL") == 2
    assert await db.fetchval("SELECT count(*) FROM messages WHERE text IS NOT NULL") == 4


async def test_bytes_shared_with_a_kept_file_stay_until_it_goes_too(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        first = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        second = (await submit_request(client, world.unit("FR"), "DE"))["id"]
    original, key = await add_file(database, first, world.unit("FR"))
    await add_file(database, second, world.unit("FR"), shared_from=original)
    await expire(db, first)

    report = await purge(database)
    assert (len(report.requests), report.files, report.blobs_deleted) == (1, 1, 0)
    assert await chunk_count(db, key) == 1
    kept = await db.fetchval(
        "SELECT storage_key FROM files WHERE request_id = $1", uuid.UUID(second)
    )
    assert kept == key

    await expire(db, second)
    report = await purge(database)
    assert (len(report.requests), report.files, report.blobs_deleted) == (1, 1, 1)
    assert await chunk_count(db, key) == 0


async def test_bytes_shared_by_two_purged_requests_go_with_the_batch(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        first = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        second = (await submit_request(client, world.unit("FR"), "DE"))["id"]
    original, key = await add_file(database, first, world.unit("FR"), b"x" * (CHUNK_BYTES + 1))
    await add_file(database, second, world.unit("FR"), shared_from=original)
    assert await chunk_count(db, key) == 2
    await expire(db, first)
    await expire(db, second)
    report = await purge(database)
    assert (len(report.requests), report.files, report.blobs_deleted) == (2, 2, 1)
    assert await chunk_count(db, key) == 0


async def test_a_second_run_finds_nothing(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        for _ in range(3):
            await expire(db, (await exchange(client, database, world))["id"])
    assert len((await purge(database)).requests) == 3
    before = await snapshot(db)
    again = await purge(database)
    assert again.requests == []
    assert again.blobs_deleted == 0
    assert await snapshot(db) == before
    assert len(await entries(database, "request.purged")) == 3


async def test_a_dry_run_writes_nothing_and_reports_what_the_purge_does(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        for files in (0, 1, 2):
            await expire(db, (await exchange(client, database, world, files=files))["id"])
        await exchange(client, database, world)  # not due
    before = await snapshot(db)
    dry = await purge(database, dry_run=True)
    assert await snapshot(db) == before
    assert dry.dry_run
    assert len(dry.requests) == 3

    done = await purge(database)
    assert (done.requests, done.blobs_deleted) == (dry.requests, dry.blobs_deleted)
    assert done.blobs_deleted == 3


async def test_limit_purges_the_oldest_first(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        ids = [(await exchange(client, database, world, files=0))["id"] for _ in range(3)]
    for days_ago, request_id in zip((200, 300, 100), ids, strict=True):
        await expire(db, request_id, days_ago=days_ago)
    first = await purge(database, limit=2)
    assert [str(item.request_id) for item in first.requests] == [ids[1], ids[0]]
    rest = await purge(database, limit=2)
    assert [str(item.request_id) for item in rest.requests] == [ids[2]]


# --- concurrency ----------------------------------------------------------------------------


async def test_racing_purges_purge_each_request_once(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        ids = set()
        for _ in range(8):
            request_id = (await exchange(client, database, world))["id"]
            await expire(db, request_id)
            ids.add(request_id)

    reports = await asyncio.gather(*(purge(database, limit=3) for _ in range(4)))
    purged = [str(item.request_id) for report in reports for item in report.requests]
    while more := (await purge(database, limit=3)).requests:
        purged += [str(item.request_id) for item in more]
    assert sorted(purged) == sorted(ids)
    trail = await entries(database, "request.purged")
    assert sorted(entry.object_id for entry in trail) == sorted(ids)
    assert await db.fetchval("SELECT count(*) FROM blob_chunks") == 0


async def test_only_one_instance_purges_at_a_time(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = (await exchange(client, database, world))["id"]
    await expire(db, request_id)
    async with database.transaction() as session:
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PURGE_LOCK})
        # Another instance's round finds the lock taken and skips.
        assert await purge_batch(database, blob_store(database)) is None
    report = await purge_batch(database, blob_store(database))
    assert report is not None
    assert len(report.requests) == 1


async def test_two_purges_of_files_sharing_bytes_do_not_both_keep_them(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    """Each purge sees the other's file as still in use until that one commits: the key's
    lock makes the second decide after the first has committed, and delete the bytes."""
    async with http(server.http) as client:
        first = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        second = (await submit_request(client, world.unit("FR"), "DE"))["id"]
    original, key = await add_file(database, first, world.unit("FR"))
    await add_file(database, second, world.unit("FR"), shared_from=original)
    await expire(db, first, days_ago=EXPIRED + 1)  # the oldest: claimed by the first purge
    await expire(db, second)

    store = blob_store(database)
    async with database.transaction() as session:
        one = await purge_due(session, store, limit=1, dry_run=False)
        other = asyncio.create_task(purge(database, limit=1))
        # The other purge has claimed the second request and waits on this transaction.
        while not await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            assert not other.done(), other.result()
            await asyncio.sleep(0.01)
    two = await other
    assert [str(item.request_id) for item in one.requests] == [first]
    assert [str(item.request_id) for item in two.requests] == [second]
    assert (one.blobs_deleted, two.blobs_deleted) == (0, 1)
    assert await chunk_count(db, key) == 0


# --- the job and the command ----------------------------------------------------------------


async def test_the_purge_loop_is_supervised_and_ready(server: RunningServer) -> None:
    async with http(server.http) as client:
        ready = (await client.get("/readyz")).json()
        metrics = (await client.get("/metrics")).text
    assert ready["loops"]["retention.purge"]["state"] == "up"
    assert 'relay247_loop_up{loop="retention.purge"} 1.0' in metrics


@pytest.mark.slow
async def test_two_instances_purge_each_request_once(
    world: World, database: Database, database_url: str, db: asyncpg.Connection
) -> None:
    env = environment(DATABASE_URL=database_url, RELAY247_PURGE_INTERVAL="0.2")
    async with serving(free_port(), env) as first, serving(free_port(), env):
        async with http(first) as client:
            ids = []
            for _ in range(5):
                request_id = (await exchange(client, database, world))["id"]
                await expire(db, request_id)
                ids.append(request_id)
        for _ in range(300):
            if not await db.fetchval("SELECT count(*) FROM requests WHERE purged_at IS NULL"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the instances did not purge the expired requests in 30 s")
    trail = await entries(database, "request.purged")
    assert sorted(entry.object_id for entry in trail) == sorted(ids)


async def test_the_purge_command(
    server: RunningServer,
    world: World,
    database: Database,
    database_url: str,
    db: asyncpg.Connection,
) -> None:
    async with http(server.http) as client:
        created = await exchange(client, database, world, files=2)
        await expire(db, created["id"])
        await exchange(client, database, world)  # not due
    env = environment(DATABASE_URL=database_url)
    before = await snapshot(db)

    code, out, err = await invoke("purge", "--dry-run", env=env)
    assert code == 0, err
    assert await snapshot(db) == before
    lines = out.splitlines()
    [line] = [line for line in lines if created["id"] in line]
    assert line.split()[1:2] == ["preservation"]
    assert line.split()[-2:] == ["2", "2"]  # messages, files
    assert lines[-1].startswith("dry run: would purge 1 request (2 messages, 2 files;")

    code, out, err = await invoke("purge", "--limit", "5", env=env)
    assert code == 0, err
    assert created["id"] in out
    assert out.splitlines()[-1].startswith("purged 1 request (2 messages, 2 files;")
    assert len(await entries(database, "request.purged", object_id=created["id"])) == 1

    code, out, err = await invoke("purge", env=env)
    assert code == 0, err
    assert out.splitlines() == [
        "purged 0 requests (0 messages, 0 files; the bytes of 0 stored files deleted)"
    ]
