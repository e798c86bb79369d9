"""The bounds on audit exports (RELAY247_EXPORT_SEND_TIMEOUT, RELAY247_MAX_EXPORTS): a client
that stops reading loses its export instead of holding a connection and a snapshot, and an
instance streams only so many exports at once."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import asyncpg
import pytest

from app.api.audit_export import ExportLimits
from app.audit.sealer import seal_batch
from app.core.database import Database
from app.core.settings import Settings
from tests.clients import http, unread_get
from tests.conftest import RunningServer, changed
from tests.factories import Party, World
from tests.scrape import scrape, value
from tests.waiting import eventually

# Far more than loopback's socket buffers hold once the client's is shrunk: the server's
# sends block as soon as the client stops reading.
ENTRIES = 20_000


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The server's signing key and checkpoint file in the test's folder."""
    return changed(
        settings,
        audit={
            "audit_signing_key_file": tmp_path / "key.pem",
            "audit_checkpoint_file": tmp_path / "checkpoints.ndjson",
        },
    )


async def large_trail(db: asyncpg.Connection, database: Database) -> None:
    await db.execute(
        "INSERT INTO audit_entries (action, object_type, object_id, details) "
        "SELECT 'request.read', 'request', 'entry-' || g, jsonb_build_object('n', g) "
        "FROM generate_series(1, $1::int) AS g",
        ENTRIES,
    )
    while await seal_batch(database.engine, limit=5000) is not None:
        pass


class StalledExport:
    """An export whose client reads the headers and a few bytes, then nothing more."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def start(cls, server: RunningServer, party: Party) -> StalledExport:
        return cls(*await unread_get(server.http, "/v1/audit/export", party))

    async def rest(self) -> bytes:
        """Whatever the server still sends, read now, until it closes the connection."""
        received = b""
        while piece := await asyncio.wait_for(self.reader.read(65536), 10):
            received += piece
        return received

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def limits(server: RunningServer) -> ExportLimits:
    export_limits: ExportLimits = server.app.state.export_limits
    return export_limits


async def transactions_left_open(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
    )
    return count


async def exports_audited(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE action = 'audit.exported'"
    )
    return count


@pytest.mark.slow
async def test_an_export_whose_client_stops_reading_is_stopped_and_its_slot_released(
    server: RunningServer,
    world: World,
    database: Database,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await large_trail(db, database)
    limits(server).max_running = 1
    limits(server).send_timeout = 1
    stalled = await StalledExport.start(server, world.auditor)
    async with http(server.http) as client:
        # The stalled export holds the only slot until its send times out; then the next
        # export is let in, and streams whole.
        async def next_export_accepted() -> bool:
            response = await client.get(
                "/v1/audit/export", params={"action": "nothing.ever"}, headers=world.auditor.headers
            )
            if response.status_code == 503:
                return False
            assert response.status_code == 200, response.text
            assert json.loads(response.text.splitlines()[-1])["type"] == "end"
            return True

        await eventually(next_export_accepted, within=15)
    assert limits(server).running == 0
    assert await transactions_left_open(db) == 0
    stopped = [r for r in caplog.records if "export stopped" in r.getMessage()]
    assert [r.levelname for r in stopped] == ["WARNING"]
    assert not any(
        "entry-" in r.getMessage() or world.auditor.token in r.getMessage() for r in caplog.records
    )
    async with http(server.http) as client:
        assert value(await scrape(client), "relay247_audit_exports_stalled_total") == 1
    # The connection was dropped, not left to flush to a client that takes nothing: the
    # client, reading again, finds it reset (its file lacks its end line).
    with pytest.raises(ConnectionResetError):
        await stalled.rest()
    stalled.writer.close()
    # Dropped on purpose: uvicorn does not call it a response left unfinished (an ERROR).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_export_past_the_limit_is_refused_with_503_before_it_is_audited(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    await large_trail(db, database)
    limits(server).send_timeout = 60  # the stalled exports hold their slots for the test
    allowed = limits(server).max_running
    stalled = [await StalledExport.start(server, world.auditor) for _ in range(allowed)]
    assert await exports_audited(db) == allowed
    async with http(server.http) as client:
        response = await client.get("/v1/audit/export", headers=world.auditor.headers)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) > 0
        problem = response.json()
        assert problem["type"] == "urn:relay247:problem:exports-busy"
        assert f"limit of {allowed} exports" in problem["detail"]
        assert await exports_audited(db) == allowed
        assert (
            value(await scrape(client), "relay247_http_requests_shed_total", reason="exports") == 1
        )
        # Clients that go away give their slots back at once.
        for export in stalled:
            await export.close()

        async def all_released() -> bool:
            return limits(server).running == 0

        await eventually(all_released, within=10)
        response = await client.get(
            "/v1/audit/export", params={"action": "nothing.ever"}, headers=world.auditor.headers
        )
        assert response.status_code == 200, response.text
    assert await transactions_left_open(db) == 0
