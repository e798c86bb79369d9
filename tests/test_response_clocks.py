"""Legal response clocks, with real servers: a routed request carries its response deadline and
its warning and breach rows; the worker pushes each warning once and the breach to the desk
(which the NCB follows) and the requester; the clock pauses while the request waits on its
requester and resumes exactly; a restarted server does not repeat a fired warning; a response
stops the clock.

The policy speaks in hours. To see a warning fire without waiting hours, a test makes that
one row due in the database (as if the time had passed) and wakes the workers the way a write
of a near deadline does (a NOTIFY on the events' channel; tests/deadlines.py): the firing
itself is the real worker's. A pause of an hour is made the same way: its start is moved back
an hour."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.deadlines.escalation_policy import LEGAL_DEFAULT
from app.models.enums import Role
from tests.audit_trail import entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer, free_port
from tests.deadlines import bring_due, fire_next
from tests.factories import World, make_rotation
from tests.processes import environment, serving

RESPOND_WITHIN_HOURS = 2
PAUSE = timedelta(hours=1)  # how long a paused request waits on its requester
REASON = "Which mailbox exactly: the address has two aliases"


def policy_with_response_time(hours: int) -> dict[str, Any]:
    """The legal default, every request to be answered within ``hours``."""
    document = LEGAL_DEFAULT.model_dump(mode="json")
    document["response_times"] = [{"type": None, "priority": None, "respond_within_hours": hours}]
    return document


async def use_policy(client: httpx.AsyncClient, world: World) -> None:
    response = await client.put(
        "/v1/countries/DE/escalation-policy",
        content=json.dumps(policy_with_response_time(RESPOND_WITHIN_HOURS)),
        headers={**world("DE", Role.NCB).headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


async def clock_rows(db: asyncpg.Connection, request_id: str) -> dict[tuple[str, int], Any]:
    rows = await db.fetch(
        "SELECT kind, step, due_at, fired_at, cancelled_at FROM request_deadlines "
        "WHERE request_id = $1 AND kind IN ('response_warning', 'response_breach')",
        uuid.UUID(request_id),
    )
    return {(row["kind"], row["step"]): row for row in rows}


async def pushed(db: asyncpg.Connection, request_id: str, event: str) -> list[tuple[Any, str]]:
    """Each push of ``event`` for the request: (its percent if any, its channel)."""
    rows = await db.fetch(
        "SELECT (data->>'percent')::int AS percent, channel FROM events "
        "WHERE request_id = $1 AND type = $2 ORDER BY id",
        uuid.UUID(request_id),
        event,
    )
    return [(row["percent"], row["channel"]) for row in rows]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def pause_began_earlier(db: asyncpg.Connection, request_id: str, earlier: timedelta) -> None:
    """As if the pause had begun ``earlier`` before it did: the request's pause and the rows
    it cancelled (cancelled at exactly the pause's start) moved back together."""
    paused_at = await db.fetchval(
        "UPDATE requests SET response_paused_at = response_paused_at - $2::interval "
        "WHERE id = $1 RETURNING response_paused_at + $2::interval",
        uuid.UUID(request_id),
        earlier,
    )
    assert paused_at is not None
    moved = await db.execute(
        "UPDATE request_deadlines SET cancelled_at = cancelled_at - $3::interval "
        "WHERE request_id = $1 AND cancelled_at = $2",
        uuid.UUID(request_id),
        paused_at,
        earlier,
    )
    assert moved == "UPDATE 2", moved  # the 90 % warning and the breach


async def next_event(socket: Dashboard, event: str, **data: Any) -> dict[str, Any]:
    """The next push of ``event`` (with these data), past others: the desk hears the request's
    arrival, and the assignee hears each push twice (its own channel and its desk's)."""
    while True:
        frame = await socket.receive()
        if frame["event"] == event and data.items() <= frame["data"].items():
            return frame
        assert frame["event"] in {"request.assigned", "request.response_warning"}, frame


async def act(
    client: httpx.AsyncClient, headers: dict[str, str], request_id: str, action: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/requests/{request_id}/actions/{action}", json=body or None, headers=headers
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_submit_writes_the_response_clock_and_an_ack_leaves_it_running(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        await use_policy(client, world)
        created = await submit_request(client, world.unit("FR"))
        request_id = created["id"]
        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=desk.headers)
        assert acked.status_code == 200, acked.text
        shown = (await client.get(f"/v1/requests/{request_id}", headers=desk.headers)).json()
    created_at = datetime.fromisoformat(created["created_at"])
    due = datetime.fromisoformat(created["response_due_at"])
    assert due - created_at == timedelta(hours=RESPOND_WITHIN_HOURS)
    assert shown["response_due_at"] == created["response_due_at"]
    assert shown["response_paused_at"] is None
    assert shown["response_breached_at"] is None
    rows = await clock_rows(db, request_id)
    assert {key: row["due_at"] - created_at for key, row in rows.items()} == {
        ("response_warning", 50): timedelta(hours=RESPOND_WITHIN_HOURS) * 0.5,
        ("response_warning", 90): timedelta(hours=RESPOND_WITHIN_HOURS) * 0.9,
        ("response_breach", 100): timedelta(hours=RESPOND_WITHIN_HOURS),
    }
    # The ack stopped the escalation, not the response clock.
    assert all(row["cancelled_at"] is None and row["fired_at"] is None for row in rows.values())
    ack_rows = await db.fetch(
        "SELECT cancelled_at FROM request_deadlines WHERE request_id = $1 AND kind = 'ack'",
        uuid.UUID(request_id),
    )
    assert [row["cancelled_at"] is not None for row in ack_rows] == [True]


async def test_warnings_fire_once_each_and_the_breach_reaches_desk_and_requester(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    assignee, requester, ncb = world.desk("DE"), world.unit("FR"), world("DE", Role.NCB)
    await make_rotation(database, "DE", [assignee.principal_id])
    sockets = {
        "assignee": await Dashboard.open(server.ws, assignee),
        "requester": await Dashboard.open(server.ws, requester),
        "ncb": await Dashboard.open(server.ws, ncb),
    }
    async with http(server.http) as client:
        await use_policy(client, world)
        created = await submit_request(client, requester)
        request_id = created["id"]
        assert created["assigned_to"] == str(assignee.principal_id)

        for percent in (50, 90):
            await bring_due(db, request_id, "response_warning", percent)
            for socket in sockets.values():
                frame = await next_event(socket, "request.response_warning", percent=percent)
                assert frame["data"]["percent"] == percent
                assert frame["data"]["request_id"] == request_id
                assert moment(frame["data"]["response_due_at"]) == moment(
                    created["response_due_at"]
                )
                assert "subject" not in frame["data"]  # metadata only

        await bring_due(db, request_id, "response_breach", 100)
        for socket in sockets.values():
            frame = await next_event(socket, "request.breached")
            assert frame["data"]["response_breached_at"] is not None
        shown = (await client.get(f"/v1/requests/{request_id}", headers=ncb.headers)).json()
        # The assignee hears it on its own channel and its desk's; then nothing more comes.
        await next_event(sockets["assignee"], "request.breached")
    # Nothing is left to fire, and nothing fired is still on its way.
    assert all(row["fired_at"] is not None for row in (await clock_rows(db, request_id)).values())
    for socket in sockets.values():
        await socket.assert_silent()
        await socket.close()

    assert shown["response_breached_at"] is not None
    assert shown["version"] == created["version"] + 1
    channels = sorted(
        [f"agency:{requester.agency_id}", "desk:DE", f"principal:{assignee.principal_id}"]
    )
    warnings = await pushed(db, request_id, "request.response_warning")
    assert sorted(warnings) == sorted((p, c) for p in (50, 90) for c in channels)
    assert sorted(c for _, c in await pushed(db, request_id, "request.breached")) == channels
    warned = await entries(database, "request.response_warning", object_id=request_id)
    assert [e.details["percent"] for e in warned] == [50, 90]
    breached = await entries(database, "request.breached", object_id=request_id)
    assert len(breached) == 1
    assert all(e.actor_principal_id is None for e in warned + breached)
    rows = await clock_rows(db, request_id)
    assert all(row["fired_at"] is not None for row in rows.values())


async def test_the_clock_pauses_while_waiting_on_the_requester_and_resumes_exactly(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    desk, requester = world.desk("DE"), world.unit("FR")
    async with http(server.http) as client:
        await use_policy(client, world)
        created = await submit_request(client, requester)
        request_id = created["id"]
        await act(client, desk.headers, request_id, "acknowledge")
        # The first warning fires before the pause: it stays fired, once.
        await fire_next(db, request_id, "response_warning", 50)
        before = await clock_rows(db, request_id)

        paused = await act(client, desk.headers, request_id, "request_info", reason=REASON)
        during = (await client.get(f"/v1/requests/{request_id}", headers=desk.headers)).json()
        pending_while_paused = [
            key
            for key, row in (await clock_rows(db, request_id)).items()
            if row["fired_at"] is None and row["cancelled_at"] is None
        ]
        # The requester answers an hour later.
        await pause_began_earlier(db, request_id, PAUSE)
        resumed = await act(client, requester.headers, request_id, "provide_info")
        after = (await client.get(f"/v1/requests/{request_id}", headers=desk.headers)).json()

        # The rest of the clock still runs, from its shifted times.
        await fire_next(db, request_id, "response_warning", 90)

    assert during["status"] == "info_requested"
    assert moment(during["response_paused_at"]) == moment(paused["at"])
    assert during["response_due_at"] == created["response_due_at"]
    assert pending_while_paused == []

    waited = datetime.fromisoformat(resumed["at"]) - (datetime.fromisoformat(paused["at"]) - PAUSE)
    assert waited >= PAUSE
    assert after["response_paused_at"] is None
    shift = datetime.fromisoformat(after["response_due_at"]) - datetime.fromisoformat(
        created["response_due_at"]
    )
    assert shift == waited  # exact, on the database clock

    rows = await clock_rows(db, request_id)
    assert (
        rows[("response_warning", 50)]["fired_at"] == before[("response_warning", 50)]["fired_at"]
    )
    assert rows[("response_warning", 50)]["due_at"] == before[("response_warning", 50)]["due_at"]
    breach = rows[("response_breach", 100)]
    assert breach["due_at"] - before[("response_breach", 100)]["due_at"] == waited
    assert breach["fired_at"] is None
    assert breach["cancelled_at"] is None
    assert breach["due_at"] == datetime.fromisoformat(after["response_due_at"])

    warned = await entries(database, "request.response_warning", object_id=request_id)
    assert [e.details["percent"] for e in warned] == [50, 90]
    per_channel = await pushed(db, request_id, "request.response_warning")
    assert sorted(p for p, c in per_channel if c == "desk:DE") == [50, 90]


POLL = 0.25  # the restarted server's deadline poll interval, in seconds


@pytest.mark.slow
async def test_a_restarted_server_does_not_repeat_a_fired_warning(
    world: World, database: Database, database_url: str, db: asyncpg.Connection
) -> None:
    env = environment(DATABASE_URL=database_url, RELAY247_DEADLINE_POLL_INTERVAL=str(POLL))
    async with serving(free_port(), env) as first:
        async with http(first) as client:
            await use_policy(client, world)
            request_id = (await submit_request(client, world.unit("FR")))["id"]
        await fire_next(db, request_id, "response_warning", 50)
    # Stopped; started again, a later warning fires and the first one does not again.
    async with serving(free_port(), env):
        await fire_next(db, request_id, "response_warning", 90)
        # Whatever the worker would repeat, it would at one of its looks, at least one every
        # poll interval: two of them pass.
        await asyncio.sleep(2 * POLL)
    warned = await entries(database, "request.response_warning", object_id=request_id)
    assert [e.details["percent"] for e in warned] == [50, 90]
    assert sorted(
        p for p, c in await pushed(db, request_id, "request.response_warning") if c == "desk:DE"
    ) == [50, 90]


async def test_a_response_stops_the_clock(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        await use_policy(client, world)
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        await act(client, desk.headers, request_id, "acknowledge")
        responded = await act(client, desk.headers, request_id, "respond")
    rows = await clock_rows(db, request_id)
    assert len(rows) == 3
    assert all(
        row["fired_at"] is None and row["cancelled_at"] == datetime.fromisoformat(responded["at"])
        for row in rows.values()
    )
    assert await entries(database, "request.breached", object_id=request_id) == []
