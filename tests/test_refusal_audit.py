"""Refused attempts on objects are in the audit trail: who tried to see or change which object
and got 403 or 404, written although the refused call wrote nothing; a principal probing in
a loop adds a bounded number of entries, and the next one says how many were left out."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import asyncpg
import limits.aio.storage.memory
import pytest

from app.core.database import Database
from app.core.settings import ApiSettings
from app.identity.refusals import ACTION, RefusalTrail, object_of
from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World, make_national_auditor
from tests.test_audit_entries import read_all

WINDOW_SECONDS = 3


class LimiterClock:
    """The clock of the rate-limit library's in-memory windows (the refusal trail's), which
    a test moves forward: the window passes without being waited out."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead


async def refusals(db: asyncpg.Connection, *, object_side: bool = False) -> list[asyncpg.Record]:
    """The refusals as the caller's country's auditors see them (or, with ``object_side``,
    the entries naming the objects' countries, written for those of a foreign or no object)."""
    return await db.fetch(
        "SELECT actor_principal_id, actor_country, object_type, object_id, details, countries "
        "FROM audit_entries WHERE action = 'access.refused' "
        "AND (details ? 'object_side') = $1 ORDER BY id",
        object_side,
    )


async def test_another_country_looking_at_a_request_is_recorded(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    stranger = world.desk("JP")
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        seen = await client.get(f"/v1/requests/{request_id}", headers=stranger.headers)
        thread = await client.get(f"/v1/requests/{request_id}/messages", headers=stranger.headers)
        nowhere = await client.get(f"/v1/requests/{uuid.uuid4()}", headers=stranger.headers)

    assert [seen.status_code, thread.status_code, nowhere.status_code] == [404, 404, 404]
    rows = await refusals(db)
    assert [(r["actor_principal_id"], r["actor_country"]) for r in rows] == [
        (stranger.principal_id, "JP")
    ] * 3
    assert [(r["object_type"], r["object_id"]) for r in rows[:2]] == [("request", request_id)] * 2
    # JP's auditors are not told which countries the hidden request is between; theirs are.
    assert [list(r["countries"]) for r in rows] == [["JP"]] * 3
    object_side = await refusals(db, object_side=True)
    assert [(r["object_id"], list(r["countries"])) for r in object_side] == [
        (request_id, ["DE", "FR"]),
        (request_id, ["DE", "FR"]),
        (rows[2]["object_id"], []),
    ]
    assert [json.loads(r["details"]) for r in rows[:2]] == [
        {"status": 404, "method": "GET", "route": "/v1/requests/{request_id}", "left_out": 0},
        {
            "status": 404,
            "method": "GET",
            "route": "/v1/requests/{request_id}/messages",
            "left_out": 0,
        },
    ]


def _as_seen(entry: dict[str, Any]) -> dict[str, Any]:
    """What an entry tells besides its own id, time, object id and place in the chain."""
    shown = ("actor_principal_id", "actor_country", "action", "object_type", "countries")
    return {**{key: entry[key] for key in shown}, "details": entry["details"]}


async def test_a_probe_of_a_hidden_request_names_its_countries_to_their_auditors_only(
    server: RunningServer, world: World, database: Database
) -> None:
    """JP probes a FR->DE request: JP's auditor sees the probe as it would see one of an id
    that names nothing; DE's and FR's auditors see that their request was probed, and by whom."""
    auditors = {c: await make_national_auditor(database, world, c) for c in ("JP", "DE", "FR")}
    prober = world.desk("JP")
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        nowhere = str(uuid.uuid4())
        for probed in (request_id, nowhere):
            answer = await client.get(f"/v1/requests/{probed}", headers=prober.headers)
            assert answer.status_code == 404, answer.text
        seen = {
            country: await read_all(client, auditor, action=ACTION)
            for country, auditor in auditors.items()
        }
        network = await read_all(client, world.auditor, action=ACTION)

    probe = {
        "actor_principal_id": str(prober.principal_id),
        "actor_country": "JP",
        "action": ACTION,
        "object_type": "request",
    }
    asked = {"status": 404, "method": "GET", "route": "/v1/requests/{request_id}", "left_out": 0}
    assert [(e["object_id"], _as_seen(e)) for e in seen["JP"]] == [
        (request_id, {**probe, "countries": ["JP"], "details": asked}),
        (nowhere, {**probe, "countries": ["JP"], "details": asked}),
    ]
    for country in ("DE", "FR"):
        [entry] = seen[country]
        assert entry["object_id"] == request_id
        assert _as_seen(entry) == {
            **probe,
            "countries": ["DE", "FR"],
            "details": {**asked, "object_side": True, "salt": entry["details"]["salt"]},
        }
    # Network-wide auditors see both sides of both probes.
    assert [(e["object_id"], e["countries"]) for e in network] == [
        (request_id, ["JP"]),
        (request_id, ["DE", "FR"]),
        (nowhere, ["JP"]),
        (nowhere, []),
    ]


async def test_an_action_of_the_other_side_is_recorded_and_changes_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    sender = world.unit("FR")
    async with http(server.http) as client:
        request_id = (await submit_request(client, sender, "DE"))["id"]
        refused = await client.post(
            f"/v1/requests/{request_id}/actions/start", json={}, headers=sender.headers
        )
        after = await client.get(f"/v1/requests/{request_id}", headers=sender.headers)

    assert refused.status_code == 403, refused.text
    assert after.json()["status"] == "submitted"
    [row] = await refusals(db)
    assert row["actor_principal_id"] == sender.principal_id
    assert row["object_id"] == request_id
    assert json.loads(row["details"])["status"] == 403


async def test_a_principal_probing_in_a_loop_adds_a_bounded_number_of_entries(
    server: RunningServer, world: World, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = LimiterClock()
    monkeypatch.setattr(limits.aio.storage.memory, "time", clock)
    server.app.state.refusals = RefusalTrail(f"3 per {WINDOW_SECONDS} seconds")
    prober, other = world.desk("JP"), world("JP", Role.NCB)
    async with http(server.http) as client:

        async def probe() -> int:
            path = f"/v1/requests/{uuid.uuid4()}"
            return (await client.get(path, headers=prober.headers)).status_code

        answers = [await probe() for _ in range(10)]
        other_answer = await client.get(f"/v1/files/{uuid.uuid4()}", headers=other.headers)
        clock.ahead += WINDOW_SECONDS + 0.2  # the window passes
        later = await probe()

    assert answers == [404] * 10, "the limit bounds the entries, never the answers"
    assert [other_answer.status_code, later] == [404, 404]
    rows = await refusals(db)
    mine = [
        json.loads(r["details"]) for r in rows if r["actor_principal_id"] == prober.principal_id
    ]
    assert [entry["left_out"] for entry in mine] == [0, 0, 0, 7]
    theirs = [r for r in rows if r["actor_principal_id"] == other.principal_id]
    assert [(r["object_type"], json.loads(r["details"])["left_out"]) for r in theirs] == [
        ("file", 0)
    ]


@pytest.mark.parametrize(
    ("route", "params", "expected"),
    [
        ("/v1/requests/{request_id}", {"request_id": "r1"}, ("request", "r1")),
        (
            "/v1/requests/{request_id}",
            {"request_id": "0A1B2C3D4E5F40718293A4B5C6D7E8F9"},
            ("request", "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"),
        ),
        ("/v1/requests/{request_id}/messages", {"request_id": "r1"}, ("request", "r1")),
        ("/v1/files/{file_id}/content", {"file_id": "f1"}, ("file", "f1")),
        ("/v1/countries/{cc}/roster", {"cc": "DE"}, ("country", "DE")),
        ("/v1/tokens/{prefix}", {"prefix": "r247_ab"}, None),
        ("/v1/requests", {}, None),
    ],
)
def test_the_object_a_route_names(
    route: str, params: dict[str, str], expected: tuple[str, str] | None
) -> None:
    assert object_of(route, params) == expected


def test_a_malformed_limit_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="refusal_audit_limit"):
        ApiSettings(refusal_audit_limit="three a minute")
