"""RELAY247_AUDIT_SEALER: an instance may leave sealing to the others (a dedicated sealer
instance). It still writes every entry; it seals none, and /readyz lists no sealer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from app.audit.sealer import GATHER_SECONDS, seal_batch
from app.core.database import Database
from app.core.settings import Settings
from tests.clients import http, submit_request
from tests.conftest import changed, running_server
from tests.factories import World

SEAL_INTERVAL = 0.1  # RELAY247_AUDIT_SEAL_INTERVAL, in seconds (the default: 0.5)


async def _unsealed(db: asyncpg.Connection, object_id: str) -> tuple[int, int]:
    row = await db.fetchrow(
        "SELECT count(*) AS entries, count(*) FILTER (WHERE chain_position IS NULL) AS unsealed "
        "FROM audit_entries WHERE object_id = $1",
        object_id,
    )
    assert row is not None
    return row["entries"], row["unsealed"]


async def test_an_instance_with_the_sealer_off_seals_nothing_and_another_seals_its_entries(
    world: World,
    database: Database,
    database_url: str,
    db: asyncpg.Connection,
    settings: Settings,
) -> None:
    while await seal_batch(database.engine) is not None:  # the world's own entries
        pass
    # A sealer looks every interval, and seals its own instance's entries GATHER_SECONDS
    # after they commit: a short interval makes a short wait show that none sealed them.
    interval = timedelta(seconds=SEAL_INTERVAL)
    sealer_off = changed(settings, audit={"audit_sealer": False, "audit_seal_interval": interval})
    sealer_on = changed(settings, audit={"audit_seal_interval": interval})
    async with running_server(database_url, sealer_off) as off, http(off.http) as client:
        created = await submit_request(client, world.unit("FR"))
        # Three looks of a sealer and more than the 0.1 s after a commit: nothing of this
        # instance is sealed.
        await asyncio.sleep(3 * SEAL_INTERVAL + GATHER_SECONDS)
        entries, unsealed = await _unsealed(db, created["id"])
        ready = (await client.get("/readyz")).json()
        metrics = (await client.get("/metrics")).text
        assert entries >= 1
        assert unsealed == entries
        assert ready["status"] == "ok"
        assert "audit.sealer" not in ready["loops"]
        assert "audit.checkpointer" in ready["loops"]
        assert 'loop="audit.sealer"' not in metrics
        # Another instance, sealer on (the default), finds them on its next look.
        async with running_server(database_url, sealer_on) as on, http(on.http) as other:
            for _ in range(40):
                if (await _unsealed(db, created["id"]))[1] == 0:
                    break
                await asyncio.sleep(0.05)
            assert (await _unsealed(db, created["id"])) == (entries, 0)
            ready = (await other.get("/readyz")).json()
            assert ready["loops"]["audit.sealer"]["state"] == "up"
