"""Acknowledgement deadlines and escalation, with real servers: a request nobody acknowledges
walks its country's escalation policy step by step to the global desk and is then reminded;
an ack stops it; several instances fire each deadline once, one survives another's kill -9,
and an ack racing an escalation is always one or the other.

Two tests let the deadlines fall due on their own, in real time: the walk of every step (the
workers' timers and the wake-ups that a submit and each escalation send) and the takeover
after a kill -9 (its bound is a time). The others give the policy long steps and make each
deadline due when they need it (tests/deadlines.py): the firing is the real workers'."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.deadlines.escalation_policy import LEGAL_DEFAULT
from app.models.enums import Layer, Role
from tests.audit_trail import entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer, free_port
from tests.deadlines import STEP_SECONDS, bring_due, bring_due_together, wake_workers
from tests.factories import Party, World, make_party, make_rotation
from tests.processes import environment, serving
from tests.waiting import beats, eventually

# The takeover bound documented in /work/notes/deadlines.md: a surviving instance's timer is
# set on the same nearest deadline, and its safety-net poll (this interval) bounds the rest.
POLL_SECONDS = 2


def fast_policy(*timeouts: int) -> dict[str, Any]:
    """The legal default with every priority's steps shortened to ``timeouts`` seconds."""
    document = LEGAL_DEFAULT.model_dump(mode="json")
    targets = ["on_duty_primary", "on_duty_backup", "ncb", "global_desk"]
    for rule in document["ack_steps"]:
        rule["steps"] = [
            {"target": target, "ack_timeout_seconds": seconds}
            for target, seconds in zip(targets, timeouts, strict=True)
        ]
    return document


async def use_policy(client: httpx.AsyncClient, world: World, *timeouts: int) -> None:
    ncb = world("DE", Role.NCB)
    response = await client.put(
        "/v1/countries/DE/escalation-policy",
        content=json.dumps(fast_policy(*timeouts)),
        headers={**ncb.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


async def backup_on_duty(database: Database, world: World) -> Party:
    """A second contact point of DE, on duty as backup while DE's desk is the primary."""
    primary = world.desk("DE")
    backup = await make_party(
        database,
        agency_id=primary.agency_id,
        country="DE",
        role=Role.CONTACT_POINT,
        name="DE backup",
    )
    await make_rotation(database, "DE", [primary.principal_id])
    await make_rotation(database, "DE", [backup.principal_id], layer=Layer.BACKUP)
    return backup


async def escalations(db: asyncpg.Connection, request_id: str) -> list[tuple[int, str, list[str]]]:
    """Each request.escalated event once: its step, its target and the channels it went to."""
    rows = await db.fetch(
        """
        SELECT (data->>'escalation_step')::int AS step, data->>'target' AS target,
               array_agg(channel ORDER BY channel) AS channels
        FROM events WHERE request_id = $1 AND type = 'request.escalated'
        GROUP BY 1, 2 ORDER BY min(id)
        """,
        uuid.UUID(request_id),
    )
    return [(row["step"], row["target"], list(row["channels"])) for row in rows]


async def escalation_events_per_step(db: asyncpg.Connection) -> dict[tuple[str, int], int]:
    """How many request.escalated events each (request, step) had on its target desk."""
    rows = await db.fetch(
        """
        SELECT request_id, (data->>'escalation_step')::int AS step, count(*) AS n
        FROM events WHERE type = 'request.escalated' AND channel = 'desk:DE'
        GROUP BY 1, 2
        """
    )
    return {(str(row["request_id"]), row["step"]): row["n"] for row in rows}


async def pending_escalation(db: asyncpg.Connection, request_id: str) -> int:
    """The request's escalation deadlines that are still to fire."""
    pending: int = await db.fetchval(
        "SELECT count(*) FROM request_deadlines WHERE request_id = $1 "
        "AND kind IN ('ack', 'reminder') AND fired_at IS NULL AND cancelled_at IS NULL",
        uuid.UUID(request_id),
    )
    return pending


@pytest.mark.slow
async def test_escalation_walks_every_step_to_the_global_desk(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    """In real time, at one second a step: nobody makes a deadline due but the clock."""
    backup = await backup_on_duty(database, world)
    primary, requester, ncb = world.desk("DE"), world.unit("FR"), world("DE", Role.NCB)
    requester_socket = await Dashboard.open(server.ws, requester)
    async with http(server.http) as client:
        await use_policy(client, world, 1, 1, 1, 1)
        created = await submit_request(client, requester)
        request_id = created["id"]
        assert created["assigned_to"] == str(primary.principal_id)
        assert created["escalation_step"] == 0
        assert created["ack_due_at"] is not None
        assert created["escalated_at"] is None
        assert created["overdue_at"] is None

    # The requester hears every step, then the overdue flag, then a reminder.
    seen = []
    for expected_step in (1, 2, 3):
        frame = await requester_socket.receive_event("request.escalated")
        seen.append((frame["data"]["escalation_step"], frame["data"]["target"]))
        assert frame["data"]["escalation_step"] == expected_step
    assert seen == [(1, "on_duty_backup"), (2, "ncb"), (3, "global_desk")]
    first = await requester_socket.receive_event("request.overdue")
    again = await requester_socket.receive_event("request.overdue")
    assert (first["data"]["reminder"], again["data"]["reminder"]) == (0, 1)

    # A client of its own: the first one's connection sat idle through the walk, as long as
    # uvicorn's default keep-alive and httpx's (5 s both), and a GET sent on it as the server
    # closed it failed. RELAY247_KEEP_ALIVE_TIMEOUT now outlasts httpx's.
    async with http(server.http) as client:
        shown = (await client.get(f"/v1/requests/{request_id}", headers=ncb.headers)).json()
        assert shown["escalation_step"] == 3
        # The desk as a whole holds it now, but because nobody acknowledged in time: not
        # "desk", which says nobody was on duty when it arrived.
        assert shown["assigned_to"] is None
        assert shown["assignment"] == "escalated"
        assert shown["overdue_at"] is not None
        assert shown["escalated_at"] is not None
        history = [(e["step"], e["target"], e["assigned_to"]) for e in shown["escalations"]]
        assert history == [
            (1, "on_duty_backup", str(backup.principal_id)),
            (2, "ncb", None),
            (3, "global_desk", None),
        ]

        # Someone acts: the reminders stop.
        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=world.gs.headers)
        assert acked.status_code == 200, acked.text
    # A reminder may have been fired while the ack was on its way; none after it: the ack
    # left nothing to fire, and nothing fired before it is still on its way.
    while (frame := await requester_socket.receive())["event"] != "request.acknowledged":
        assert frame["event"] == "request.overdue", frame
    assert await pending_escalation(db, request_id) == 0
    await requester_socket.assert_silent()
    await requester_socket.close()

    agency, desk = f"agency:{requester.agency_id}", "desk:DE"
    assert await escalations(db, request_id) == [
        (
            1,
            "on_duty_backup",
            sorted(
                [
                    agency,
                    desk,
                    f"principal:{backup.principal_id}",
                    f"principal:{primary.principal_id}",
                ]
            ),
        ),
        (2, "ncb", sorted([agency, desk, f"principal:{backup.principal_id}"])),
        (3, "global_desk", sorted([agency, desk, "global"])),
    ]
    audited = await entries(database, "request.escalated", object_id=request_id)
    assert [(e.details["from_step"], e.details["to_step"]) for e in audited] == [
        (0, 1),
        (1, 2),
        (2, 3),
    ]
    assert all(e.actor_principal_id is None for e in audited)
    assert await pending_escalation(db, request_id) == 0


async def test_an_ack_at_step_two_stops_the_escalation(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    await backup_on_duty(database, world)
    requester, ncb = world.unit("FR"), world("DE", Role.NCB)
    requester_socket = await Dashboard.open(server.ws, requester)
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        request_id = (await submit_request(client, requester))["id"]
        await bring_due(db, request_id, "ack")
        assert (await requester_socket.receive_event("request.escalated"))["data"][
            "escalation_step"
        ] == 1
        await bring_due(db, request_id, "ack")
        assert (await requester_socket.receive_event("request.escalated"))["data"][
            "escalation_step"
        ] == 2
        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=ncb.headers)
        assert acked.status_code == 200, acked.text
        await requester_socket.receive_event("request.acknowledged")
        # Nothing is left to fire (the deadlines' states below), and nothing is on its way.
        assert await pending_escalation(db, request_id) == 0
        await requester_socket.assert_silent()
        shown = (await client.get(f"/v1/requests/{request_id}", headers=ncb.headers)).json()
    await requester_socket.close()
    assert shown["escalation_step"] == 2
    assert (shown["assigned_to"], shown["assignment"]) == (None, "escalated")
    assert shown["overdue_at"] is None
    assert shown["acknowledged_by"] == str(ncb.principal_id)
    assert [step for step, _, _ in await escalations(db, request_id)] == [1, 2]
    states = await db.fetch(
        "SELECT step, fired_at IS NOT NULL AS fired, cancelled_at IS NOT NULL AS cancelled "
        "FROM request_deadlines WHERE request_id = $1 AND kind = 'ack' ORDER BY step",
        uuid.UUID(request_id),
    )
    assert [tuple(row) for row in states] == [(0, True, False), (1, True, False), (2, False, True)]


@pytest.mark.slow
async def test_two_instances_fire_each_step_once(
    world: World, database: Database, database_url: str, db: asyncpg.Connection
) -> None:
    await backup_on_duty(database, world)
    env = environment(DATABASE_URL=database_url, RELAY247_DEADLINE_POLL_INTERVAL=str(POLL_SECONDS))
    async with serving(free_port(), env) as first, serving(free_port(), env) as second:
        async with http(first) as client:
            await use_policy(client, world, *[STEP_SECONDS] * 4)
            ids = [(await submit_request(client, world.unit("FR")))["id"] for _ in range(12)]
        async with http(second) as client:
            ids += [(await submit_request(client, world.unit("JP")))["id"] for _ in range(12)]

        for step in (1, 2, 3):
            # Every request's deadline due at once, both instances woken by the same NOTIFY:
            # they race for each one.
            await bring_due_together(db, ids)

            async def all_at(step: int = step) -> bool:
                count = await db.fetchval(
                    "SELECT count(*) FROM requests WHERE escalation_step = $2 AND id = ANY($1)",
                    [uuid.UUID(i) for i in ids],
                    step,
                )
                return bool(count == len(ids))

            await eventually(all_at)
    per_step = await escalation_events_per_step(db)
    assert per_step == {(request_id, step): 1 for request_id in ids for step in (1, 2, 3)}


@pytest.mark.slow
async def test_a_surviving_instance_fires_the_deadline_of_one_killed(
    world: World, database: Database, database_url: str, db: asyncpg.Connection
) -> None:
    """In real time: the survivor's own timer or poll finds the deadline, within a bound."""
    env = environment(DATABASE_URL=database_url, RELAY247_DEADLINE_POLL_INTERVAL=str(POLL_SECONDS))
    started: list[asyncio.subprocess.Process] = []
    async with (
        serving(free_port(), env, started=started) as doomed,
        serving(free_port(), env) as survivor,
    ):
        async with http(doomed) as client:
            await use_policy(client, world, 2, 60, 60, 60)
            created = await submit_request(client, world.unit("FR"))
        due = datetime.fromisoformat(created["ack_due_at"])
        # Just before the deadline, the instance that took the request (and set its timer on
        # it) dies without a word.
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.3))
        started[0].kill()
        await started[0].wait()

        async def escalated() -> bool:
            return bool(await escalations(db, created["id"]))

        await eventually(escalated)
        async with http(survivor) as client:
            shown = await client.get(
                f"/v1/requests/{created['id']}", headers=world("DE", Role.NCB).headers
            )
        assert shown.json()["escalation_step"] == 1
    assert [step for step, _, _ in await escalations(db, created["id"])] == [1]
    late = await db.fetchval(
        "SELECT extract(epoch FROM fired_at - due_at) FROM request_deadlines "
        "WHERE request_id = $1 AND step = 0",
        uuid.UUID(created["id"]),
    )
    assert 0 <= late <= POLL_SECONDS  # the documented takeover bound


async def test_a_claim_left_by_a_dead_connection_is_taken_over(
    server: RunningServer, world: World, database_url: str, db: asyncpg.Connection
) -> None:
    """An instance that dies while it fires holds the deadline's and the request's row locks
    until Postgres sees its connection go; then another worker fires it."""
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        created = await submit_request(client, world.unit("FR"))
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    crashed = await asyncpg.connect(dsn)
    await crashed.execute("BEGIN")
    # The request's lock first, so that no worker can claim the deadline once it is due; then
    # the deadline's, as a worker's claim holds both.
    await crashed.execute(
        "SELECT 1 FROM requests WHERE id = $1 FOR UPDATE", uuid.UUID(created["id"])
    )
    await bring_due(db, created["id"], "ack")
    await crashed.execute(
        "SELECT 1 FROM request_deadlines d JOIN requests r ON r.id = d.request_id "
        "WHERE d.request_id = $1 FOR UPDATE",
        uuid.UUID(created["id"]),
    )
    # Past the deadline, held: the worker looks again and again (it beats after each look)
    # and fires nothing.
    await beats(server.app, "deadlines.worker", 3)
    assert await escalations(db, created["id"]) == []
    crashed.terminate()

    async def escalated() -> bool:
        return bool(await escalations(db, created["id"]))

    await eventually(escalated)
    assert [step for step, _, _ in await escalations(db, created["id"])] == [1]


RACES = 100


async def test_ack_racing_escalation_is_one_or_the_other(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    ncb = world("DE", Role.NCB)
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        created = [await submit_request(client, world.unit("FR")) for _ in range(RACES)]
        # Every deadline falls due at once, and each ack is sent at that moment; the workers
        # are woken amid the acks (once the first is answered), so that they fire while acks
        # still arrive: some requests are acknowledged first, some escalated first, and some
        # meet at the row lock.
        await bring_due_together(db, [r["id"] for r in created], wake=False)
        answered = asyncio.Event()

        async def ack_at_deadline(request: dict[str, Any]) -> httpx.Response:
            while True:
                answer = await client.post(f"/v1/requests/{request['id']}/ack", headers=ncb.headers)
                # A hundred acks at once pass the server's in-flight limit: it sheds some with
                # 503 and nothing done, and a client sends them again, as the contract says.
                if answer.status_code != 503:
                    answered.set()
                    return answer
                await asyncio.sleep(0.05)

        async def wake_amid_the_acks() -> None:
            await answered.wait()
            await wake_workers(db)

        _, *answers = await asyncio.gather(
            wake_amid_the_acks(), *(ack_at_deadline(r) for r in created)
        )
    refused = [(a.status_code, a.text) for a in answers if a.status_code != 200]
    assert not refused, refused

    async def settled() -> bool:
        pending = await db.fetchval(
            "SELECT count(*) FROM request_deadlines "
            "WHERE kind IN ('ack', 'reminder') AND fired_at IS NULL AND cancelled_at IS NULL"
        )
        return bool(pending == 0)

    await eventually(settled)
    outcomes = {"ack first": 0, "escalated first": 0}
    for request in created:
        request_id = uuid.UUID(request["id"])
        row = await db.fetchrow(
            "SELECT escalation_step, acknowledged_at, escalated_at FROM requests WHERE id = $1",
            request_id,
        )
        deadlines = await db.fetch(
            "SELECT step, fired_at IS NOT NULL AS fired, cancelled_at IS NOT NULL AS cancelled "
            "FROM request_deadlines WHERE request_id = $1 AND kind = 'ack' ORDER BY step",
            request_id,
        )
        kinds = [
            r["type"]
            for r in await db.fetch(
                "SELECT type FROM events WHERE request_id = $1 AND channel = 'desk:DE' "
                'ORDER BY "offset"',
                request_id,
            )
        ]
        assert row["acknowledged_at"] is not None
        if row["escalation_step"] == 0:
            outcomes["ack first"] += 1
            assert [tuple(d) for d in deadlines] == [(0, False, True)]
            assert kinds == ["request.assigned", "request.acknowledged"]
        else:
            outcomes["escalated first"] += 1
            assert row["escalated_at"] <= row["acknowledged_at"]
            assert [tuple(d) for d in deadlines] == [(0, True, False), (1, False, True)]
            assert kinds == ["request.assigned", "request.escalated", "request.acknowledged"]
    escalated = await entries(database, "request.escalated")
    acknowledged = await entries(database, "request.acknowledged")
    assert len(escalated) == outcomes["escalated first"]
    assert len(acknowledged) == RACES
