"""Rosters over REST: rotations and overrides written by the NCB, read as who is on duty,
shifts, gaps and an iCalendar feed, in the country's own time zone."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import icalendar
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World, make_contact_point

ROSTER = "/v1/countries/DE/roster"


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with http(server.http) as client:
        yield client


@pytest.fixture
async def berlin(db: asyncpg.Connection) -> None:
    await db.execute("UPDATE countries SET time_zone = 'Europe/Berlin' WHERE code = 'DE'")


@pytest.fixture
async def second(database: Database, world: World) -> Party:
    return await make_contact_point(database, world, "DE", "DE officer B")


def ncb(world: World) -> dict[str, str]:
    return world("DE", Role.NCB).headers


def rotation(*participants: Party | uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "layer": "primary",
        "name": "days",
        "participants": [str(p.principal_id if isinstance(p, Party) else p) for p in participants],
        "starts_local": "2027-03-20T08:00",
        "cadence": "daily",
        **fields,
    }


def override(kind: str, who: Party, start: str, end: str, **fields: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "principal_id": str(who.principal_id),
        "starts_at": start,
        "ends_at": end,
        **fields,
    }


def field_of(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    field: str = response.json()["errors"][0]["field"]
    return field


async def audited(db: asyncpg.Connection, action: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT object_id, details FROM audit_entries WHERE action = $1 ORDER BY id", action
    )
    return [{"object_id": row["object_id"], **json.loads(row["details"])} for row in rows]


# --- rotations --------------------------------------------------------------------------------


async def test_the_ncb_adds_a_rotation_in_local_time_and_it_is_listed_and_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, berlin: None, second: Party
) -> None:
    response = await client.post(
        f"{ROSTER}/rotations", json=rotation(world.desk("DE"), second), headers=ncb(world)
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["starts_local"] == "2027-03-20T08:00:00"
    assert created["starts_at"] == "2027-03-20T07:00:00Z"  # CET, UTC+1
    assert created["participants"] == [str(world.desk("DE").principal_id), str(second.principal_id)]
    listed = await client.get(f"{ROSTER}/rotations", headers=world.desk("DE").headers)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    [entry] = await audited(db, "roster.rotation_added")
    assert entry["object_id"] == created["id"]
    assert entry["starts_local"] == "2027-03-20T08:00:00"


async def test_a_rotation_is_refused_field_by_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, second: Party
) -> None:
    await db.execute("UPDATE principals SET disabled_at = now() WHERE id = $1", second.principal_id)
    desk = world.desk("DE")
    cases: list[tuple[dict[str, Any], str]] = [
        (rotation(desk, starts_local="2027-03-20T08:00+01:00"), "starts_local"),
        (rotation(desk, starts_local="2027-03-20T08:00:00Z"), "starts_local"),
        (rotation(desk, starts_local="9999-12-31T23:00"), "starts_local"),
        (rotation(desk, starts_local="0001-01-01T00:00"), "starts_local"),
        (rotation(desk, starts_local="tomorrow"), "starts_local"),
        (rotation(desk, world.desk("JP")), "participants[1]"),
        (rotation(world("DE", Role.NCB)), "participants[0]"),
        (rotation(desk, world.unit("DE")), "participants[1]"),
        (rotation(desk, desk), "participants[1]"),
        (rotation(desk, second), "participants[1]"),
        (rotation(desk, uuid.uuid4()), "participants[1]"),
        (rotation(), "participants"),
        (rotation(desk, cadence="hours"), "hours"),
        (rotation(desk, cadence="hours", hours=169), "hours"),
        (rotation(desk, cadence="daily", hours=12), "hours"),
        (rotation(desk, name="night\x00shift"), "name"),
        (rotation(desk, name="x" * 201), "name"),
        (rotation(desk, ends_at="2027-03-20T06:00:00Z"), "ends_at"),
        (rotation(desk, ends_at="9999-12-31T23:59:59Z"), "ends_at"),
        (rotation(desk, layer="tertiary"), "layer"),
        (rotation(desk, colour="blue"), "colour"),
    ]
    wrong = {}
    for body, field in cases:
        response = await client.post(f"{ROSTER}/rotations", json=body, headers=ncb(world))
        if response.status_code != 422 or response.json()["errors"][0]["field"] != field:
            wrong[json.dumps(body)[:120]] = f"{response.status_code} {response.text[:200]}"
    assert not wrong, wrong
    assert await db.fetchval("SELECT count(*) FROM roster_rotations") == 0


async def test_ending_a_rotation_stops_it_now_once_and_never_in_the_past(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World
) -> None:
    created = (
        await client.post(
            f"{ROSTER}/rotations", json=rotation(world.desk("DE")), headers=ncb(world)
        )
    ).json()
    end = f"{ROSTER}/rotations/{created['id']}/end"
    past = await client.post(end, json={"at": "2026-01-01T00:00:00Z"}, headers=ncb(world))
    assert field_of(past) == "at"
    ended = await client.post(end, headers=ncb(world))  # no body: now
    assert ended.status_code == 200, ended.text
    assert ended.json()["ends_at"] is not None
    again = await client.post(end, json={}, headers=ncb(world))
    assert again.status_code == 409
    unknown = await client.post(
        f"{ROSTER}/rotations/{uuid.uuid4()}/end", json={}, headers=ncb(world)
    )
    assert unknown.status_code == 404
    assert len(await audited(db, "roster.rotation_ended")) == 1


# --- overrides --------------------------------------------------------------------------------


async def test_overlapping_overrides_are_refused_naming_the_one_in_the_way(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, second: Party
) -> None:
    desk = world.desk("DE")
    day = ("2027-01-10T08:00:00Z", "2027-01-10T20:00:00Z")
    noon = ("2027-01-10T12:00:00Z", "2027-01-11T00:00:00Z")

    async def post(body: dict[str, Any]) -> httpx.Response:
        return await client.post(f"{ROSTER}/overrides", json=body, headers=ncb(world))

    cover = await post(override("cover", desk, *day, layer="primary", note="flu season"))
    assert cover.status_code == 201, cover.text
    assert cover.json()["note"] == "flu season"
    clash = await post(override("cover", second, *noon, layer="primary"))
    assert field_of(clash) == "starts_at"
    assert clash.json()["conflicting_override_id"] == cover.json()["id"]
    assert cover.json()["id"] in clash.json()["detail"]
    assert (await post(override("cover", second, *noon, layer="backup"))).status_code == 201
    # Touching is not overlapping: [start, end) ranges.
    after = override("cover", second, "2027-01-10T20:00:00Z", "2027-01-11T08:00:00Z")
    assert (await post({**after, "layer": "primary"})).status_code == 201

    swap = override(
        "swap", desk, *day, layer="primary", other_principal_id=str(second.principal_id)
    )
    assert (await post(swap)).status_code == 201
    assert field_of(await post({**swap, "starts_at": noon[0], "ends_at": noon[1]})) == "starts_at"
    assert (await post({**swap, "layer": "backup"})).status_code == 201

    leave = await post(override("leave", desk, *day))
    assert leave.status_code == 201
    assert field_of(await post(override("leave", desk, *noon))) == "starts_at"
    assert (await post(override("leave", second, *noon))).status_code == 201
    # Once cancelled, an override is in nobody's way.
    cancelled = await client.delete(f"{ROSTER}/overrides/{leave.json()['id']}", headers=ncb(world))
    assert cancelled.status_code == 204
    assert (await post(override("leave", desk, *noon))).status_code == 201
    assert len(await audited(db, "roster.override_added")) == 8


async def test_an_override_is_refused_field_by_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, second: Party
) -> None:
    desk = world.desk("DE")
    day = ("2027-01-10T08:00:00Z", "2027-01-10T20:00:00Z")
    other = str(second.principal_id)
    cases: list[tuple[dict[str, Any], str]] = [
        (override("leave", desk, day[1], day[0]), "ends_at"),
        (override("leave", desk, day[0], day[0]), "ends_at"),
        (override("leave", desk, *day, layer="primary"), "layer"),
        (override("cover", desk, *day), "layer"),
        (override("swap", desk, *day, layer="primary"), "other_principal_id"),
        (
            override(
                "swap", desk, *day, layer="primary", other_principal_id=str(desk.principal_id)
            ),
            "other_principal_id",
        ),
        (
            override("cover", desk, *day, layer="primary", other_principal_id=other),
            "other_principal_id",
        ),
        (override("cover", world.desk("JP"), *day, layer="primary"), "principal_id"),
        (override("cover", world("DE", Role.NCB), *day, layer="primary"), "principal_id"),
        (
            override("swap", desk, *day, layer="primary", other_principal_id=str(uuid.uuid4())),
            "other_principal_id",
        ),
        (override("leave", desk, "2027-01-10T08:00:00", day[1]), "starts_at"),
        (override("leave", desk, "9999-12-31T00:00:00Z", "9999-12-31T12:00:00Z"), "starts_at"),
        (override("leave", desk, "0001-01-01T00:00:00Z", day[1]), "starts_at"),
        (override("leave", desk, day[0], "+10000-01-01T00:00:00Z"), "ends_at"),
        (override("leave", desk, *day, note="ill\x00"), "note"),
        (override("leave", desk, *day, note="x" * 2001), "note"),
        (override("holiday", desk, *day), "kind"),
    ]
    wrong = {}
    for body, field in cases:
        response = await client.post(f"{ROSTER}/overrides", json=body, headers=ncb(world))
        if response.status_code != 422 or response.json()["errors"][0]["field"] != field:
            wrong[json.dumps(body)[:140]] = f"{response.status_code} {response.text[:200]}"
    assert not wrong, wrong
    assert await db.fetchval("SELECT count(*) FROM roster_overrides") == 0


async def test_two_racing_overlapping_covers_cannot_both_be_written(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, second: Party
) -> None:
    bodies = [
        override("cover", who, "2027-02-01T00:00:00Z", "2027-02-02T00:00:00Z", layer="primary")
        for who in (world.desk("DE"), second)
    ]
    for _ in range(5):
        await db.execute("DELETE FROM roster_overrides")
        answers = await asyncio.gather(
            *(client.post(f"{ROSTER}/overrides", json=b, headers=ncb(world)) for b in bodies)
        )
        assert sorted(a.status_code for a in answers) == [201, 422]
        assert await db.fetchval("SELECT count(*) FROM roster_overrides") == 1


async def test_a_cancelled_override_is_kept_for_history_and_cancelling_it_again_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World
) -> None:
    body = override("leave", world.desk("DE"), "2027-01-10T08:00:00Z", "2027-01-11T08:00:00Z")
    created = (await client.post(f"{ROSTER}/overrides", json=body, headers=ncb(world))).json()
    url = f"{ROSTER}/overrides/{created['id']}"
    assert (await client.delete(url, headers=ncb(world))).status_code == 204
    assert (await client.delete(url, headers=ncb(world))).status_code == 204
    listed = (await client.get(f"{ROSTER}/overrides", headers=ncb(world))).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert listed[0]["cancelled_at"] is not None
    assert len(await audited(db, "roster.override_cancelled")) == 1
    elsewhere = f"/v1/countries/JP/roster/overrides/{created['id']}"
    assert (await client.delete(elsewhere, headers=world.gs.headers)).status_code == 404
    unknown = f"{ROSTER}/overrides/{uuid.uuid4()}"
    assert (await client.delete(unknown, headers=ncb(world))).status_code == 404


async def test_lists_are_paginated_newest_first(client: httpx.AsyncClient, world: World) -> None:
    ids = []
    for n in range(5):
        body = rotation(world.desk("DE"), name=f"rotation {n}")
        ids.append(
            (await client.post(f"{ROSTER}/rotations", json=body, headers=ncb(world))).json()["id"]
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{ROSTER}/rotations", params=params, headers=ncb(world))).json()
        seen += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == ids[::-1]


# --- who may ----------------------------------------------------------------------------------


async def test_the_own_ncb_and_the_global_desk_write_the_desk_reads_and_others_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    body = rotation(world.desk("DE"))
    writes = {
        "DE NCB": (world("DE", Role.NCB), 201),
        "global desk": (world.gs, 201),
        "DE desk": (world.desk("DE"), 403),
        "JP NCB": (world("JP", Role.NCB), 403),
        "FR unit": (world.unit("FR"), 403),
        "auditor": (world.auditor, 403),
    }
    reads = {
        "DE desk": (world.desk("DE"), 200),
        "DE NCB": (world("DE", Role.NCB), 200),
        "global desk": (world.gs, 200),
        "JP desk": (world.desk("JP"), 403),
        "DE unit": (world.unit("DE"), 403),
        "auditor": (world.auditor, 403),
    }
    wrong = {}
    for who, (party, status) in writes.items():
        response = await client.post(f"{ROSTER}/rotations", json=body, headers=party.headers)
        if response.status_code != status:
            wrong[f"write {who}"] = response.status_code
    for who, (party, status) in reads.items():
        for path in (
            "/on-duty",
            "/roster/rotations",
            "/roster/shifts?from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z",
        ):
            response = await client.get(f"/v1/countries/DE{path}", headers=party.headers)
            if response.status_code != status:
                wrong[f"read {path} {who}"] = response.status_code
    assert not wrong, wrong
    unknown = await client.get("/v1/countries/QQ/on-duty", headers=world.gs.headers)
    assert unknown.status_code == 404


# --- who is on duty when ----------------------------------------------------------------------


async def test_on_duty_now_by_default_with_names_and_nobody_in_an_empty_layer(
    client: httpx.AsyncClient, world: World
) -> None:
    body = rotation(world.desk("DE"), starts_local="2026-01-01T08:00")
    await client.post(f"{ROSTER}/rotations", json=body, headers=ncb(world))
    answer = (await client.get("/v1/countries/DE/on-duty", headers=world.desk("DE").headers)).json()
    assert answer["primary"]["principal_id"] == str(world.desk("DE").principal_id)
    assert answer["primary"]["name"] == "DE contact_point"
    assert answer["primary"]["source"] == "rotation"
    assert answer["backup"] is None
    assert answer["time_zone"] == "UTC"


async def test_on_duty_shifts_and_gaps_follow_berlin_across_the_spring_change(
    client: httpx.AsyncClient, world: World, berlin: None, second: Party
) -> None:
    first = world.desk("DE")
    await client.post(f"{ROSTER}/rotations", json=rotation(first, second), headers=ncb(world))
    # On 2027-03-28 Berlin goes from UTC+1 to UTC+2: the 08:00 hand-off moves from 07:00Z to
    # 06:00Z, and the shift that spans the change lasts 23 hours.
    leave = override("leave", first, "2027-03-28T10:00:00Z", "2027-03-28T12:00:00Z")
    assert (
        await client.post(f"{ROSTER}/overrides", json=leave, headers=ncb(world))
    ).status_code == 201

    async def on_duty(at: str) -> dict[str, Any]:
        response = await client.get(
            "/v1/countries/DE/on-duty", params={"at": at}, headers=ncb(world)
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    before = await on_duty("2027-03-28T05:30:00Z")
    assert before["primary"]["principal_id"] == str(second.principal_id)
    assert (before["primary"]["starts_at"], before["primary"]["ends_at"]) == (
        "2027-03-27T07:00:00Z",
        "2027-03-28T06:00:00Z",
    )
    after = await on_duty("2027-03-28T06:00:00Z")
    assert after["primary"]["principal_id"] == str(first.principal_id)
    assert (after["primary"]["starts_at"], after["primary"]["ends_at"]) == (
        "2027-03-28T06:00:00Z",
        "2027-03-28T10:00:00Z",
    )
    assert (await on_duty("2027-03-28T11:00:00Z"))["primary"] is None

    window = {"from": "2027-03-27T00:00:00Z", "to": "2027-03-30T00:00:00Z"}
    shifts = (await client.get(f"{ROSTER}/shifts", params=window, headers=ncb(world))).json()
    assert shifts["time_zone"] == "Europe/Berlin"
    assert (shifts["from"], shifts["to"]) == ("2027-03-27T00:00:00Z", "2027-03-30T00:00:00Z")
    a, b = str(first.principal_id), str(second.principal_id)
    assert [
        (s["principal_id"], s["starts_at"][5:16], s["ends_at"][5:16]) for s in shifts["items"]
    ] == [
        (a, "03-27T00:00", "03-27T07:00"),
        (b, "03-27T07:00", "03-28T06:00"),
        (a, "03-28T06:00", "03-28T10:00"),
        (a, "03-28T12:00", "03-29T06:00"),
        (b, "03-29T06:00", "03-30T00:00"),
    ]
    assert {s["layer"] for s in shifts["items"]} == {"primary"}
    gaps = (await client.get(f"{ROSTER}/gaps", params=window, headers=ncb(world))).json()
    assert [(g["layer"], g["starts_at"], g["ends_at"]) for g in gaps["items"]] == [
        ("primary", "2027-03-28T10:00:00Z", "2027-03-28T12:00:00Z"),
        ("backup", "2027-03-27T00:00:00Z", "2027-03-30T00:00:00Z"),
    ]


async def test_a_window_is_bounded_and_ordered(client: httpx.AsyncClient, world: World) -> None:
    wrong = {}
    for path in ("shifts", "shifts.ics", "gaps"):
        for params, field in (
            ({"from": "2027-01-02T00:00:00Z", "to": "2027-01-01T00:00:00Z"}, "to"),
            ({"from": "2027-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}, "to"),
            ({"from": "2027-01-01T00:00:00Z", "to": "2027-04-05T00:00:00Z"}, "to"),
            ({"from": "2027-01-01T00:00:00", "to": "2027-01-02T00:00:00Z"}, "from"),
            ({"from": "9999-12-30T00:00:00Z", "to": "9999-12-31T00:00:00Z"}, "from"),
            ({"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"}, "from"),
            ({"to": "2027-01-02T00:00:00Z"}, "from"),
        ):
            response = await client.get(f"{ROSTER}/{path}", params=params, headers=ncb(world))
            if response.status_code != 422 or response.json()["errors"][0]["field"] != field:
                wrong[f"{path} {params}"] = f"{response.status_code} {response.text[:160]}"
    for at in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2027-01-01T00:00:00"):
        response = await client.get(
            "/v1/countries/DE/on-duty", params={"at": at}, headers=ncb(world)
        )
        if response.status_code != 422 or response.json()["errors"][0]["field"] != "at":
            wrong[f"on-duty {at}"] = f"{response.status_code} {response.text[:160]}"
    assert not wrong, wrong
    quarter = {"from": "2027-01-01T00:00:00Z", "to": "2027-04-04T00:00:00Z"}  # 93 days
    assert (
        await client.get(f"{ROSTER}/gaps", params=quarter, headers=ncb(world))
    ).status_code == 200


async def test_the_calendar_feed_parses_and_holds_every_shift(
    client: httpx.AsyncClient, world: World, berlin: None, second: Party
) -> None:
    await client.post(
        f"{ROSTER}/rotations", json=rotation(world.desk("DE"), second), headers=ncb(world)
    )
    cover = override(
        "cover", second, "2027-03-25T00:00:00Z", "2027-03-26T00:00:00Z", layer="backup"
    )
    await client.post(f"{ROSTER}/overrides", json=cover, headers=ncb(world))
    window = {"from": "2027-03-20T00:00:00Z", "to": "2027-04-03T00:00:00Z"}
    response = await client.get(f"{ROSTER}/shifts.ics", params=window, headers=ncb(world))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert b"\r\n" in response.content
    assert b"\n\n" not in response.content
    assert all(len(line) <= 75 for line in response.content.split(b"\r\n"))
    feed = icalendar.Calendar.from_ical(response.content)
    events = list(feed.walk("VEVENT"))
    shifts = (await client.get(f"{ROSTER}/shifts", params=window, headers=ncb(world))).json()
    assert len(events) == len(shifts["items"]) == 14 + 1  # 14 daily turns, one backup cover
    by_start = {(e.decoded("dtstart"), "Backup" in str(e.get("summary"))): e for e in events}
    for shift in shifts["items"]:
        start = datetime.fromisoformat(shift["starts_at"])
        event = by_start[(start, shift["layer"] == "backup")]
        assert event.decoded("dtend") == datetime.fromisoformat(shift["ends_at"])
        assert shift["name"] in str(event.get("summary"))
    assert len({str(e.get("uid")) for e in events}) == len(events)
