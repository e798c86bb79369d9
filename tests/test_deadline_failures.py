"""A deadline whose firing fails is put off and tried again, and holds back no other: the
worker fires a failing batch again one deadline a transaction, puts off the one that fails
alone (retry_at, failures), logs it without content and counts it in /metrics, and fires it
once what made it fail is mended. The loop itself is never restarted for it.

The deadlines fall due when the test says (tests/deadlines.py); the policy's steps are long."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from app.deadlines.escalation_policy import LEGAL_DEFAULT
from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, bring_due_together, wake_workers
from tests.factories import World, request_body
from tests.scrape import scrape, value
from tests.waiting import eventually


def long_steps() -> dict[str, Any]:
    document = LEGAL_DEFAULT.model_dump(mode="json")
    for rule in document["ack_steps"]:
        rule["steps"] = [
            {"target": target, "ack_timeout_seconds": STEP_SECONDS}
            for target in ("on_duty_primary", "global_desk")
        ]
    return document


async def put_policy(client: httpx.AsyncClient, world: World, country: str) -> None:
    response = await client.put(
        f"/v1/countries/{country}/escalation-policy",
        content=json.dumps(long_steps()),
        headers={**world(country, Role.NCB).headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


async def ack_deadline(db: asyncpg.Connection, request_id: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT id, due_at, fired_at, failures, retry_at FROM request_deadlines "
        "WHERE request_id = $1 AND kind = 'ack' AND step = 0",
        uuid.UUID(request_id),
    )
    assert row is not None
    return row


async def at_step(db: asyncpg.Connection, request_id: str, step: int) -> bool:
    found = await db.fetchval(
        "SELECT escalation_step FROM requests WHERE id = $1", uuid.UUID(request_id)
    )
    return bool(found == step)


async def test_a_deadline_that_cannot_fire_is_put_off_and_holds_back_no_other(
    server: RunningServer, world: World, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="app.deadlines.worker")
    async with http(server.http) as client:
        await put_policy(client, world, "DE")
        await put_policy(client, world, "FR")
        stuck = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        other = (await submit_request(client, world.unit("DE"), "FR"))["id"]
        # DE's policy row is made unreadable by hand before the deadlines are due: every
        # firing for DE raises until it is mended.
        await db.execute(
            "UPDATE escalation_policies SET document = '{\"ack_steps\": 1}' "
            "WHERE country_code = 'DE'"
        )
        # The one that will fail comes first: due first, claimed first, in the same batch.
        await bring_due_together(db, [stuck, other])

        await eventually(lambda: at_step(db, other, 1))

        async def put_off() -> bool:
            return bool((await ack_deadline(db, stuck))["failures"] >= 1)

        await eventually(put_off)
        row = await ack_deadline(db, stuck)
        assert row["fired_at"] is None
        assert row["retry_at"] > row["due_at"]
        assert await at_step(db, stuck, 0)

        failures = [r for r in caplog.records if "failed to fire" in r.getMessage()]
        assert failures, "the failure was not logged"
        logged = "\n".join(r.getMessage() for r in failures)
        assert str(row["id"]) in logged
        assert stuck in logged
        for content in (request_body()["subject"], request_body()["details"], "ack_steps"):
            assert content not in logged

        # Days of failing later (the count near its limit, past where 2 ** failures would
        # overflow): still put off, by the longest delay, and the loop is not restarted.
        await db.execute(
            "UPDATE request_deadlines SET failures = 32767, retry_at = now() WHERE id = $1",
            row["id"],
        )
        await wake_workers(db)

        async def put_off_for_longest() -> bool:
            delay = await db.fetchval(
                "SELECT extract(epoch FROM retry_at - now()) FROM request_deadlines WHERE id = $1",
                row["id"],
            )
            return bool(delay > 200)

        await eventually(put_off_for_longest)
        assert (await ack_deadline(db, stuck))["failures"] == 32767

        metrics = await scrape(client)
        assert value(metrics, "relay247_deadline_failures_total") >= 2
        assert value(metrics, "relay247_loop_restarts_total", loop="deadlines.worker") == 0

        # Mended, and its next attempt brought forward (rather than waiting out the five
        # minutes): the deadline fires, once.
        await db.execute(
            "UPDATE escalation_policies SET document = $1::jsonb WHERE country_code = 'DE'",
            json.dumps(long_steps()),
        )
        await db.execute("UPDATE request_deadlines SET retry_at = now() WHERE id = $1", row["id"])
        await wake_workers(db)
        await eventually(lambda: at_step(db, stuck, 1))
    fired = await ack_deadline(db, stuck)
    assert fired["fired_at"] is not None
    escalated = await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE action = 'request.escalated' AND object_id = $1",
        stuck,
    )
    assert escalated == 1
