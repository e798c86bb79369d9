"""Who may schedule and see drills, what a schedule refuses, and where drills are not listed:
the global desk drills any desk and sees every drill; an NCB only its own desk and its own
country's drills (another's schedule of its desk only once sent); nobody else; a bad schedule
is a 422 problem that names what is wrong; a drill is in no country's list of sent requests,
and a unit never sees one. And the worker's claim: drills due together, claimed by racing
workers, are each sent once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from app.core.database import Database
from app.core.settings import ExchangeSettings
from app.drills import sending
from app.drills.worker import send_due
from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.drills import bring_due, later, request_of, schedule, scheduled
from tests.factories import World

PROBLEM = "application/problem+json"


async def test_an_ncb_drills_its_own_desk_only_and_sees_only_its_countrys_drills(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    fr_ncb, de_ncb = world("FR", Role.NCB), world("DE", Role.NCB)
    async with http(server.http) as client:
        refused = await schedule(client, fr_ncb, "DE")
        mixed = await schedule(client, fr_ncb, "FR", "DE")
        (own,) = await scheduled(client, fr_ncb, "FR")
        (by_gs,) = await scheduled(client, world.gs, "DE")
        for party in (world.desk("DE"), world.unit("DE"), world.auditor, world.partner("DE")):
            response = await schedule(client, party, "DE")
            assert response.status_code == 403, (party.role, response.text)
            assert response.headers["content-type"] == PROBLEM
            listed = await client.get("/v1/drills", headers=party.headers)
            assert listed.status_code == 403, (party.role, listed.text)
        # Before it is sent, DE's NCB does not see the global desk's drill of its desk.
        unseen = await client.get(f"/v1/drills/{by_gs}", headers=de_ncb.headers)
        await bring_due(db, by_gs)
        request_id = await request_of(db, by_gs)
        seen = await client.get(f"/v1/drills/{by_gs}", headers=de_ncb.headers)
        stranger = await client.get(f"/v1/drills/{by_gs}", headers=fr_ncb.headers)
        stranger_cancel = await client.delete(f"/v1/drills/{own}", headers=de_ncb.headers)
        stranger_request = await client.get(f"/v1/requests/{request_id}", headers=fr_ncb.headers)
        fr_list = (await client.get("/v1/drills", headers=fr_ncb.headers)).json()
        fr_results = (await client.get("/v1/drills/results", headers=fr_ncb.headers)).json()
        gs_list = (await client.get("/v1/drills", headers=world.gs.headers)).json()
        cancelled = await client.delete(f"/v1/drills/{own}", headers=fr_ncb.headers)
        sent_cancel = await client.delete(f"/v1/drills/{by_gs}", headers=world.gs.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert mixed.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM drills") == 2, "a refusal writes nothing"
    assert unseen.status_code == 404
    assert seen.status_code == 200
    assert seen.json()["status"] == "waiting"
    for response in (stranger, stranger_cancel, stranger_request):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == PROBLEM
    assert [item["id"] for item in fr_list["items"]] == [own]
    assert fr_results["items"] == []
    assert {item["id"] for item in gs_list["items"]} == {own, by_gs}
    assert cancelled.status_code == 204
    assert sent_cancel.status_code == 409
    assert sent_cancel.headers["content-type"] == PROBLEM


async def test_a_cancelled_drill_is_never_sent(
    world: World, database: Database, db: asyncpg.Connection, server: RunningServer
) -> None:
    async with http(server.http) as client:
        (drill_id,) = await scheduled(client, world.gs, "JP")
        cancelled = await client.delete(f"/v1/drills/{drill_id}", headers=world.gs.headers)
        shown = (await client.get(f"/v1/drills/{drill_id}", headers=world.gs.headers)).json()
    assert cancelled.status_code == 204
    await bring_due(db, drill_id, wake=False)
    assert await send_due(database, ExchangeSettings()) is None
    assert shown["status"] == "cancelled"
    assert await db.fetchval("SELECT count(*) FROM requests WHERE drill_id IS NOT NULL") == 0


def _bad_schedules() -> list[Any]:
    soon = later(hours=1)
    return [
        pytest.param({"countries": ["DE"], "at": later(hours=-1)}, "at", id="at-in-the-past"),
        pytest.param(
            {"countries": ["DE"], "window_start": later(hours=-2), "window_end": soon},
            "window_start",
            id="window-in-the-past",
        ),
        pytest.param(
            {"countries": ["DE"], "window_start": soon, "window_end": later(minutes=30)},
            "window_end must be after",
            id="window-inverted",
        ),
        pytest.param({"countries": ["D\u0000"], "at": soon}, "countries", id="nul-in-country"),
        pytest.param({"countries": ["ZZ"], "at": soon}, "ZZ", id="unknown-country"),
        pytest.param({"countries": [], "at": soon}, "countries", id="no-country"),
        pytest.param({"countries": ["DE", "DE"], "at": soon}, "twice", id="desk-twice"),
        pytest.param({"countries": ["DE"]}, "give at", id="no-time"),
        pytest.param(
            {"countries": ["DE"], "at": soon, "window_start": soon, "window_end": soon},
            "not both",
            id="time-and-window",
        ),
        pytest.param(
            {"countries": ["DE"], "window_start": soon, "window_end": later(days=40)},
            "31 days",
            id="window-too-long",
        ),
        pytest.param({"countries": ["DE"], "at": later(days=400)}, "days ahead", id="too-far"),
        pytest.param(
            {"countries": ["DE"], "at": "2026-12-08T10:00:00"}, "offset", id="no-utc-offset"
        ),
        pytest.param(
            {"countries": ["DE"], "at": soon, "priority": "panic"}, "priority", id="bad-priority"
        ),
        pytest.param(
            {"countries": ["DE"], "at": soon, "subject": "x"}, "subject", id="extra-field"
        ),
    ]


@pytest.mark.parametrize(("body", "named"), _bad_schedules())
async def test_a_bad_schedule_is_a_problem_naming_what_is_wrong(
    server: RunningServer, world: World, db: asyncpg.Connection, body: dict[str, Any], named: str
) -> None:
    async with http(server.http) as client:
        response = await client.post("/v1/drills", json=body, headers=world.gs.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert named in response.text
    assert await db.fetchval("SELECT count(*) FROM drills") == 0


@pytest.mark.parametrize(
    "path",
    ["/v1/drills/not-a-uuid", f"/v1/drills/{uuid.UUID(int=0)}", "/v1/drills?country=x"],
    ids=["bad-id", "unknown-id", "bad-country"],
)
async def test_a_bad_or_unknown_drill_is_a_problem(
    server: RunningServer, world: World, path: str
) -> None:
    async with http(server.http) as client:
        response = await client.get(path, headers=world.gs.headers)
    assert response.status_code in (404, 422)
    assert response.headers["content-type"] == PROBLEM


async def test_a_drill_is_in_no_list_of_sent_requests_and_never_a_units(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    de_ncb = world("DE", Role.NCB)
    async with http(server.http) as client:
        (drill_id,) = await scheduled(client, de_ncb, "DE")
        await bring_due(db, drill_id)
        request_id = await request_of(db, drill_id)

        async def listed(party: Any, **params: Any) -> list[str]:
            response = await client.get(
                "/v1/requests", params={"content": "false", **params}, headers=party.headers
            )
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        # The drilled desk sees it in its queue, marked; nobody lists it as sent.
        assert await listed(world.desk("DE")) == [request_id]
        assert await listed(de_ncb, target_country="DE") == [request_id]
        assert await listed(de_ncb, drill="true") == [request_id]
        assert await listed(de_ncb, requesting_country="DE") == []
        assert await listed(de_ncb, drill="false") == []
        assert await listed(world.gs, requesting_country="DE") == []
        for unit in (world.unit("DE"), world.unit("FR")):
            assert await listed(unit) == []
            hidden = await client.get(f"/v1/requests/{request_id}", headers=unit.headers)
            assert hidden.status_code == 404


async def test_racing_workers_send_each_due_drill_once(
    world: World, database: Database, db: asyncpg.Connection, server: RunningServer
) -> None:
    """Four claimers, on their own connections, against twelve drills due at once (the
    server's own worker is not woken, and the claimers race it as well)."""
    async with http(server.http) as client:
        ids = await scheduled(client, world.gs, "DE", "FR", "JP")
        ids += await scheduled(client, world.gs, "DE", "FR", "JP")
        ids += await scheduled(client, world("DE", Role.NCB), "DE")
        ids += await scheduled(client, world("JP", Role.NCB), "JP")
    await bring_due(db, *ids, wake=False)
    racers = [Database(database.url, pool_size=1, max_overflow=0) for _ in range(4)]
    exchange = ExchangeSettings()

    async def claim_all(racer: Database) -> list[uuid.UUID]:
        sent = []
        while (one := await send_due(racer, exchange)) is not None:
            sent.append(one[0])
        return sent

    try:
        claimed = await asyncio.gather(*(claim_all(racer) for racer in racers))
    finally:
        for racer in racers:
            await racer.dispose()
    sent_here = [drill_id for batch in claimed for drill_id in batch]
    assert len(sent_here) == len(set(sent_here)), "a drill was claimed twice"
    rows = await db.fetch(
        "SELECT d.id, d.fired_at, count(r.id) AS requests FROM drills d "
        "LEFT JOIN requests r ON r.drill_id = d.id GROUP BY d.id"
    )
    assert len(rows) == len(ids)
    assert all(row["requests"] == 1 and row["fired_at"] is not None for row in rows)
    assert await db.fetchval(
        "SELECT count(*) FROM events WHERE type = 'request.assigned' AND channel LIKE 'desk:%'"
    ) == len(ids)


async def _due_drill(db: asyncpg.Connection, world: World, country: str) -> uuid.UUID:
    """A drill of ``country``'s desk, due now, as the global desk would have scheduled it."""
    drill_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO drills (id, target_country, priority, scheduled_by, scheduled_by_agency_id,"
        " window_start, window_end, due_at) VALUES ($1, $2, 'urgent', $3, $4, now(), now(), now())",
        drill_id,
        country,
        world.gs.principal_id,
        world.gs.agency_id,
    )
    return drill_id


async def test_a_drill_that_fails_to_send_is_put_off_and_holds_back_no_other(
    world: World, database: Database, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No server here: the test's own claimer is the only worker."""
    poison = await _due_drill(db, world, "DE")
    await db.execute(
        "UPDATE drills SET due_at = due_at - interval '1 second', "
        "window_start = window_start - interval '1 second' WHERE id = $1",
        poison,
    )
    healthy = await _due_drill(db, world, "JP")
    send = sending.send

    async def failing(session: Any, drill: Any, **kwargs: Any) -> Any:
        if drill.id == poison:
            raise RuntimeError("a bug met by this drill only")
        return await send(session, drill, **kwargs)

    monkeypatch.setattr(sending, "send", failing)
    exchange = ExchangeSettings()
    failures: list[int] = []

    def count_failure() -> None:
        failures.append(1)

    assert await send_due(database, exchange, count_failure) is None  # the poison, put off
    assert failures == [1]
    sent = await send_due(database, exchange, count_failure)
    assert sent is not None
    assert sent[0] == healthy
    row = await db.fetchrow(
        "SELECT failures, retry_at > now() AS later, fired_at FROM drills WHERE id = $1", poison
    )
    assert (row["failures"], row["later"], row["fired_at"]) == (1, True, None)
    assert await send_due(database, exchange) is None  # not before its retry time

    monkeypatch.setattr(sending, "send", send)
    await db.execute("UPDATE drills SET retry_at = now() WHERE id = $1", poison)
    retried = await send_due(database, exchange)
    assert retried is not None
    assert retried[0] == poison


async def test_the_drilled_countrys_auditor_learns_nothing_before_the_drill_is_sent(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        (by_gs,) = await scheduled(client, world.gs, "DE")
        (by_ncb,) = await scheduled(client, world("JP", Role.NCB), "JP")
    concerned = {
        row["object_id"]: list(row["countries"])
        for row in await db.fetch(
            "SELECT object_id, countries FROM audit_entries WHERE action = 'drill.scheduled'"
        )
    }
    assert concerned == {by_gs: [], by_ncb: ["JP"]}
