"""The outbox's own rules: when a failed message is tried again, and what /readyz and
/metrics show of it. Sending through the real couriers, with their faults (a receiver down,
slow, black-holed, an instance killed mid-batch), is in tests/test_outbox_delivery.py."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from app.core.settings import Settings
from app.outbox.couriers import REJECTED, TIMEOUT, Outcome
from app.outbox.schedule import next_delay
from tests.clients import http
from tests.conftest import RunningServer, changed, running_server
from tests.factories import World
from tests.waiting import eventually

SVIX = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


def test_each_retry_waits_its_step_of_the_schedule_moved_by_the_jitter() -> None:
    for attempts, step in enumerate(SVIX[1:], start=1):
        delay = next_delay(SVIX, attempts, Outcome(TIMEOUT), jitter=0.2)
        assert delay is not None
        assert step * 0.8 <= delay <= step * 1.2


def test_no_retry_once_the_schedule_is_spent_or_the_outcome_is_final() -> None:
    assert next_delay(SVIX, len(SVIX), Outcome(TIMEOUT), jitter=0) is None
    assert next_delay(SVIX, 1, Outcome(REJECTED, status_code=410, final=True), jitter=0) is None


def test_retry_after_is_honoured_when_longer_but_never_past_the_longest_wait() -> None:
    asked = Outcome(REJECTED, status_code=429, retry_after=60)
    assert next_delay(SVIX, 1, asked, jitter=0) == 60
    assert next_delay(SVIX, 2, asked, jitter=0) == 300  # the schedule's own wait is longer
    forever = Outcome(REJECTED, status_code=503, retry_after=10**9)
    assert next_delay(SVIX, 1, forever, jitter=0) == max(SVIX)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No courier reaches anything here: the messages stay queued for the counts.
    return changed(settings, outbox={"outbox_sender": False})


async def test_readyz_and_metrics_show_what_waits(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    for _ in range(3):
        await db.execute(
            "INSERT INTO outbox_messages (id, route, destination_id, event_type, payload, due_at) "
            "VALUES ($1, 'email', $2, 'contact.verification', '{}', now() - interval '1 minute')",
            uuid.uuid4(),
            uuid.uuid4(),
        )
    async with http(server.http) as client:
        ready = (await client.get("/readyz")).json()
        assert ready["outbox"]["in_flight"] == 0
        assert "outbox.sender" not in ready["loops"]  # RELAY247_OUTBOX_SENDER=false
        metrics = (await client.get("/metrics")).text
    assert "relay247_outbox_in_flight 0.0" in metrics


async def test_a_running_sender_counts_the_backlog_for_readyz_and_metrics(
    database_url: str, world: World, db: asyncpg.Connection, settings: Settings
) -> None:
    for _ in range(3):
        await db.execute(
            "INSERT INTO outbox_messages (id, route, destination_id, event_type, payload, due_at) "
            "VALUES ($1, 'email', $2, 'contact.verification', '{}', now() + interval '1 hour')",
            uuid.uuid4(),
            uuid.uuid4(),
        )
    sending = changed(settings, outbox={"outbox_sender": True})
    async with running_server(database_url, sending) as server, http(server.http) as client:

        async def counted() -> bool:
            ready = (await client.get("/readyz")).json()
            return bool(ready["outbox"]["queued"].get("email") == 3)

        await eventually(counted)
        metrics = (await client.get("/metrics")).text
    assert 'relay247_outbox_queued{route="email"} 3.0' in metrics
