"""The outbox under faults, with the real webhook courier and a real receiver: a destination
that hangs costs the others nothing, an instance killed mid-batch loses no message (another
sends it again, with the same webhook-id), and a database that refuses to record an outcome
loses none either."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from app.core.service_secret import ServiceSecret
from app.core.settings import Settings
from app.outbound.signatures import new_hmac_secret
from app.webhooks import SECRET_PURPOSE
from tests.conftest import changed, free_port, running_server
from tests.factories import World
from tests.faults import inserts_refused
from tests.http_receiver import HttpReceiver, held
from tests.processes import environment, serving
from tests.waiting import eventually

EVENT = {"request_id": str(uuid.uuid4()), "type": "preservation", "priority": "urgent"}


def sending(settings: Settings, secret_file: Path, **outbox: object) -> Settings:
    return changed(
        settings,
        outbox={
            "outbound_allow_http": True,
            "outbound_allowed_networks": [ipaddress.ip_network("127.0.0.0/8")],
            "secret_key_file": secret_file,
            **outbox,
        },
    )


async def endpoint(
    db: asyncpg.Connection, world: World, secret: ServiceSecret, url: str
) -> uuid.UUID:
    """An endpoint of France's unit on a channel no event is published on: it gets only the
    messages a test writes."""
    unit = world.unit("FR")
    endpoint_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO webhook_endpoints (id, agency_id, url, channels, tlp_ceiling, secret, "
        "created_by) VALUES ($1, $2, $3, ARRAY['test:none'], 'RED', $4, $5)",
        endpoint_id,
        unit.agency_id,
        url,
        secret.seal(SECRET_PURPOSE, new_hmac_secret().encode()),
        unit.principal_id,
    )
    return endpoint_id


async def write(db: asyncpg.Connection, endpoint_id: uuid.UUID, count: int) -> list[str]:
    ids = [uuid.uuid4() for _ in range(count)]
    await db.executemany(
        "INSERT INTO outbox_messages (id, route, destination_id, event_type, payload) "
        "VALUES ($1, 'webhook', $2, 'request.assigned', $3::jsonb)",
        [(id_, endpoint_id, json.dumps(EVENT)) for id_ in ids],
    )
    return [str(id_) for id_ in ids]


async def statuses(db: asyncpg.Connection, ids: list[str]) -> Counter[str]:
    rows = await db.fetch(
        "SELECT status FROM outbox_messages WHERE id = ANY($1::uuid[])", [uuid.UUID(i) for i in ids]
    )
    return Counter(row["status"] for row in rows)


async def test_a_hanging_destination_holds_its_share_only(
    database_url: str, settings: Settings, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    secret_file = tmp_path / "service-secret.key"
    secret = ServiceSecret(secret_file)
    gate = asyncio.Event()
    async with HttpReceiver() as receiver:
        receiver.routes["/hangs"] = held(gate)
        hanging = await endpoint(db, world, secret, receiver.url("/hangs"))
        answering = await endpoint(db, world, secret, receiver.url("/answers"))
        stuck = await write(db, hanging, 12)
        fine = await write(db, answering, 12)
        config = sending(settings, secret_file, outbox_per_destination=3, outbox_concurrency=8)
        async with running_server(database_url, config):

            async def answered() -> bool:
                return (await statuses(db, fine))["sent"] == len(fine)

            # Every message of the answering endpoint goes while the other hangs...
            await eventually(answered)
            # ...which never had more than its share in flight.
            assert receiver.most_open["/hangs"] == 3
            assert (await statuses(db, stuck))["pending"] == len(stuck)
            gate.set()

            async def caught_up() -> bool:
                return (await statuses(db, stuck))["sent"] == len(stuck)

            await eventually(caught_up)
    assert {a.webhook_id for a in receiver.at("/hangs")} == set(stuck)


@pytest.mark.slow
async def test_dead_destinations_beyond_the_senders_places_do_not_starve_the_live_one(
    database_url: str, settings: Settings, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Three destinations that hang, due first, could hold all four places of the sender for
    the whole send timeout (a minute here); a send that hangs frees its place within a
    second, so the answering destination's messages all go meanwhile."""
    secret_file = tmp_path / "service-secret.key"
    secret = ServiceSecret(secret_file)
    gate = asyncio.Event()
    async with HttpReceiver() as receiver:
        stuck: list[str] = []
        for name in ("/a", "/b", "/c"):
            receiver.routes[name] = held(gate)
            stuck += await write(db, await endpoint(db, world, secret, receiver.url(name)), 4)
        fine = await write(db, await endpoint(db, world, secret, receiver.url("/answers")), 8)
        config = sending(
            settings,
            secret_file,
            outbox_per_destination=2,
            outbox_concurrency=4,
            send_timeout=timedelta(seconds=60),
        )
        async with running_server(database_url, config):

            async def answered() -> bool:
                return (await statuses(db, fine))["sent"] == len(fine)

            await eventually(answered, within=20)
            # Each dead destination still had no more than its share.
            assert all(receiver.most_open[name] == 2 for name in ("/a", "/b", "/c"))
            gate.set()

            async def caught_up() -> bool:
                return (await statuses(db, stuck))["sent"] == len(stuck)

            await eventually(caught_up)


async def test_an_instance_killed_mid_batch_loses_nothing_and_resends_with_the_same_id(
    database_url: str, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    secret_file = tmp_path / "service-secret.key"
    secret = ServiceSecret(secret_file)
    gate = asyncio.Event()
    env = environment(
        DATABASE_URL=database_url,
        RELAY247_SECRET_KEY_FILE=str(secret_file),
        RELAY247_OUTBOUND_ALLOW_HTTP="true",
        RELAY247_OUTBOUND_ALLOWED_NETWORKS='["127.0.0.0/8"]',
        RELAY247_OUTBOX_LEASE="3",
        RELAY247_SEND_TIMEOUT="2",
        RELAY247_OUTBOX_PER_DESTINATION="4",
    )
    async with HttpReceiver() as receiver:
        receiver.routes["/hook"] = held(gate)
        hook = await endpoint(db, world, secret, receiver.url("/hook"))
        ids = await write(db, hook, 10)
        started: list[asyncio.subprocess.Process] = []
        async with serving(free_port(), env, started=started):

            async def in_flight() -> bool:
                return receiver.open.get("/hook", 0) == 4

            await eventually(in_flight)
            held_by_first = {a.webhook_id for a in receiver.at("/hook")}
            started[0].kill()  # SIGKILL: no shutdown, its leases are left behind
            await started[0].wait()
        gate.set()  # the receiver answers from now on
        async with serving(free_port(), env):

            async def all_sent() -> bool:
                return (await statuses(db, ids))["sent"] == len(ids)

            await eventually(all_sent, within=60)
    arrived = Counter(a.webhook_id for a in receiver.at("/hook"))
    assert set(arrived) == set(ids)  # at least once each
    # What the killed instance had in flight came again, with the same webhook-id.
    assert all(arrived[message] >= 2 for message in held_by_first)


async def test_an_outcome_the_database_refuses_to_record_is_sent_again(
    database_url: str, settings: Settings, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    secret_file = tmp_path / "service-secret.key"
    secret = ServiceSecret(secret_file)
    async with HttpReceiver() as receiver:
        hook = await endpoint(db, world, secret, receiver.url("/hook"))
        config = sending(
            settings,
            secret_file,
            outbox_lease=timedelta(seconds=2),
            send_timeout=timedelta(seconds=1),
        )
        async with running_server(database_url, config):
            async with inserts_refused(db, "outbox_attempts"):
                ids = await write(db, hook, 1)

                async def arrived() -> bool:
                    return len(receiver.at("/hook")) >= 1

                await eventually(arrived)
                assert (await statuses(db, ids))["pending"] == 1  # not recorded as sent
            # The refused record is retried, or the lease runs out and it is sent again: sent
            # at least once and recorded once the database takes it.

            async def recorded() -> bool:
                return (await statuses(db, ids))["sent"] == 1

            await eventually(recorded)
    assert {a.webhook_id for a in receiver.at("/hook")} == set(ids)
