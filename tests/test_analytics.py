"""Response analytics: each request's figures, derived from its records, checked against
numbers worked out by hand (a request acknowledged after midnight in its target's zone, one
acknowledged the Monday after the change to summer time, a legal clock paused at the end);
their aggregates, by hand too; the rebuild from scratch equal to what the service wrote as
requests became final; visibility; and refusals of bad parameters.

The scene, with Germany's desk in Europe/Berlin (UTC+1, UTC+2 from 29 March 2026 01:00 UTC):

- late_night (FR->DE, urgent, closed): submitted Mon 2 March 22:30Z (23:30 in Berlin),
  delivered after 60 s, acknowledged 23:15Z = 00:15 Tuesday in Berlin (outside working hours;
  45 min, after its first deadline at 23:00Z: not within policy), escalated one step,
  answered 3 March 09:00Z (37,800 s), closed 10:00Z (41,400 s); due 10:30Z: met, 5,400 s spare.
- after_dst (FR->DE, routine, closed): submitted Mon 30 March 06:00Z, delivered after 120 s,
  acknowledged 06:20Z = 08:20 CEST (inside working hours; in winter time it would be 07:20,
  outside), within its deadline 06:30Z; answered 31 March 06:00Z (86,400 s), closed 08:00Z
  (93,600 s); its clock, moved later by a pause that ended, was due 04:00Z: breached by 7,200 s.
- paused (FR->DE, emergency, declined): submitted Wed 1 April 12:00Z, delivered after 30 s,
  acknowledged 12:05Z (300 s; 14:05 CEST, inside), within 12:15Z; waiting on its requester
  since 14:00Z with its clock due 20:00Z when declined on 2 April 12:00Z (86,400 s): never
  answered, 6 h left when the clock stopped: not due, 21,600 s spare.
- cancelled_early (FR->DE, urgent, cancelled): submitted 2 March 10:00Z, delivered after
  10 s, cancelled 10:05Z (300 s), before its first deadline (10:30Z: neither within nor
  outside policy) and its clock (due 3 March 10:00Z: 86,100 s spare, not due).
- ignored (JP->FR, routine, cancelled): submitted 5 March 00:00Z, never delivered nor
  acknowledged, escalated two steps and overdue, cancelled 02:00Z (7,200 s) after its first
  deadline (01:00Z: outside policy) and its clock (01:30Z: breached by 1,800 s).
- open (FR->DE): still in progress: counts nowhere.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from app.analytics import rollup
from app.models.enums import Priority, RequestStatus, RequestType, Role
from tests.cli_runner import invoke
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.outcomes import Records, at, outcome_rows, write
from tests.processes import environment

S = RequestStatus
SCENE = {
    "late_night": Records(
        "FR", "DE", "2026-03-02T22:30:00Z", S.CLOSED, "2026-03-03T10:00:00Z",
        delivered="2026-03-02T22:31:00Z", acknowledged="2026-03-02T23:15:00Z",
        responded="2026-03-03T09:00:00Z", first_ack_due="2026-03-02T23:00:00Z",
        response_due="2026-03-03T10:30:00Z", escalation_step=1,
    ),
    "after_dst": Records(
        "FR", "DE", "2026-03-30T06:00:00Z", S.CLOSED, "2026-03-31T08:00:00Z",
        type=RequestType.SUBSCRIBER_INFO, priority=Priority.ROUTINE,
        delivered="2026-03-30T06:02:00Z", acknowledged="2026-03-30T06:20:00Z",
        responded="2026-03-31T06:00:00Z", first_ack_due="2026-03-30T06:30:00Z",
        response_due="2026-03-31T04:00:00Z",
    ),
    "paused": Records(
        "FR", "DE", "2026-04-01T12:00:00Z", S.DECLINED, "2026-04-02T12:00:00Z",
        type=RequestType.EMERGENCY_DISCLOSURE, priority=Priority.EMERGENCY,
        delivered="2026-04-01T12:00:30Z", acknowledged="2026-04-01T12:05:00Z",
        first_ack_due="2026-04-01T12:15:00Z", response_due="2026-04-01T20:00:00Z",
        response_paused="2026-04-01T14:00:00Z",
    ),
    "cancelled_early": Records(
        "FR", "DE", "2026-03-02T10:00:00Z", S.CANCELLED, "2026-03-02T10:05:00Z",
        delivered="2026-03-02T10:00:10Z", first_ack_due="2026-03-02T10:30:00Z",
        response_due="2026-03-03T10:00:00Z",
    ),
    "ignored": Records(
        "JP", "FR", "2026-03-05T00:00:00Z", S.CANCELLED, "2026-03-05T02:00:00Z",
        priority=Priority.ROUTINE, first_ack_due="2026-03-05T01:00:00Z",
        response_due="2026-03-05T01:30:00Z", escalation_step=2,
        overdue="2026-03-05T01:40:00Z",
    ),
    "open": Records(
        "FR", "DE", "2026-03-03T10:00:00Z", S.IN_PROGRESS, None,
        acknowledged="2026-03-03T10:01:00Z", first_ack_due="2026-03-03T10:30:00Z",
    ),
}  # fmt: skip

# What each final request's row must say, worked out above: (deliver, acknowledge, respond,
# close seconds, escalation steps, overdue, clock, margin, within policy, in working hours).
EXPECTED = {
    "late_night": (60.0, 2700.0, 37800.0, 41400.0, 1, False, "met", 5400.0, False, False),
    "after_dst": (120.0, 1200.0, 86400.0, 93600.0, 0, False, "breached", -7200.0, True, True),
    "paused": (30.0, 300.0, None, 86400.0, 0, False, "not_due", 21600.0, True, True),
    "cancelled_early": (10.0, None, None, 300.0, 0, False, "not_due", 86100.0, None, None),
    "ignored": (None, None, None, 7200.0, 2, True, "breached", -1800.0, False, None),
}
FIGURES = (
    "deliver_seconds", "acknowledge_seconds", "respond_seconds", "close_seconds",
    "escalation_steps", "overdue", "clock", "clock_margin_seconds", "ack_within_policy",
    "ack_in_working_hours",
)  # fmt: skip


async def set_the_scene(db: asyncpg.Connection, world: World) -> dict[str, uuid.UUID]:
    for code, zone in (("DE", "Europe/Berlin"), ("FR", "Europe/Paris"), ("JP", "Asia/Tokyo")):
        await db.execute("UPDATE countries SET time_zone = $2 WHERE code = $1", code, zone)
    return {name: await write(db, world, records) for name, records in SCENE.items()}


async def rebuild(database_url: str, *flags: str) -> tuple[int, str]:
    code, stdout, stderr = await invoke(
        "analytics", "rebuild", *flags, env=environment(DATABASE_URL=database_url)
    )
    return code, stdout + stderr


async def test_each_final_request_gets_the_figures_worked_out_by_hand(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    ids = await set_the_scene(db, world)
    code, output = await rebuild(database_url)
    assert code == 0, output
    assert "rebuilt: 5 request outcomes" in output
    rows = await outcome_rows(db)
    assert set(rows) == {ids[name] for name in EXPECTED}
    for name, expected in EXPECTED.items():
        row = rows[ids[name]]
        assert tuple(row[figure] for figure in FIGURES) == expected, name
        assert row["created_at"] == at(SCENE[name].created)
    code, output = await rebuild(database_url, "--check")
    assert (code, output.strip()) == (
        0,
        "request_outcomes matches the records; the rollup, request_outcomes",
    )


async def test_the_check_finds_a_row_the_records_do_not_give(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    ids = await set_the_scene(db, world)
    assert (await rebuild(database_url))[0] == 0
    await db.execute(
        "UPDATE request_outcomes SET escalation_steps = 3 WHERE request_id = $1", ids["paused"]
    )
    await db.execute("DELETE FROM request_outcomes WHERE request_id = $1", ids["ignored"])
    code, output = await rebuild(database_url, "--check")
    assert code == 1
    assert "1 row(s) the records do not give, 2 row(s) they give" in output


async def test_the_check_finds_a_rollup_that_differs_from_the_figures(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    await set_the_scene(db, world)
    assert (await rebuild(database_url))[0] == 0
    await db.execute(
        "UPDATE request_outcome_histograms SET requests = requests + 1 WHERE stage = 'respond' "
        "AND bucket = 244"
    )
    code, output = await rebuild(database_url, "--check")
    assert code == 1
    assert output.strip() == (
        "the rollup differs from request_outcomes: 1 row(s) it does not give, 1 row(s) it "
        "gives that the rollup lacks"
    )


async def responses(client: httpx.AsyncClient, party: Party, **params: Any) -> httpx.Response:
    return await client.get("/v1/analytics/responses", params=params, headers=party.headers)


def by_hand(bucket: int, before: int, inside: int, rank: float) -> float:
    """The documented interpolation (docs/analytics.md), to the millisecond the API gives."""
    low, high = 2 ** ((bucket - 1) / 16), 2 ** (bucket / 16)
    return round(low + (high - low) * (rank - before) / inside, 3)


def stage_figures(count: int, p50: float, p90: float) -> dict[str, float]:
    return {"count": count, "p50_seconds": p50, "p90_seconds": p90}


def by(groups: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(group[key] for key in keys): group for group in groups}


async def test_aggregates_by_target_match_the_hand_computed_figures(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    async with http(server.http) as client:
        response = await responses(client, world.gs, group_by="target_country")
    assert response.status_code == 200, response.text
    groups = by(response.json()["groups"], "target_country")
    assert set(groups) == {("DE",), ("FR",)}
    germany = groups[("DE",)]
    assert germany["count"] == 4
    # Each duration's bucket is ceil(16 * log2(seconds)), bounds (2^((b-1)/16), 2^(b/16)]; a
    # percentile q of n is at rank q * n, interpolated in the bucket that reaches it.
    # Deliver 10, 30, 60, 120 s: buckets 54, 79, 95, 111. p50, rank 2: bucket 79, one
    # below it, its upper bound; p90, rank 3.6: bucket 111, three below, 0.6 of the way.
    # Acknowledge 300, 1200, 2700: buckets 132, 164, 183; p50 rank 1.5, p90 rank 2.7.
    # Respond 37800, 86400: buckets 244, 263; p50 rank 1 (bucket 244 whole), p90 rank 1.8.
    # Close 300, 41400, 86400, 93600: buckets 132, 246, 263, 265; p50 rank 2, p90 rank 3.6.
    assert germany["durations"] == {
        "deliver": stage_figures(4, by_hand(79, 1, 1, 2), by_hand(111, 3, 1, 3.6)),
        "acknowledge": stage_figures(3, by_hand(164, 1, 1, 1.5), by_hand(183, 2, 1, 2.7)),
        "respond": stage_figures(2, by_hand(244, 0, 1, 1), by_hand(263, 1, 1, 1.8)),
        "close": stage_figures(4, by_hand(246, 1, 1, 2), by_hand(265, 3, 1, 3.6)),
    }
    assert germany["durations"]["deliver"]["p90_seconds"] == 120.495
    # Within the documented bound of the nearest-rank percentile (the ceil(q * n)-th value).
    nearest = {
        "deliver": (30, 120), "acknowledge": (1200, 2700), "respond": (37800, 86400),
        "close": (41400, 93600),
    }  # fmt: skip
    for stage, (p50, p90) in nearest.items():
        figures = germany["durations"][stage]
        assert figures["p50_seconds"] == pytest.approx(p50, rel=rollup.RELATIVE_ERROR), stage
        assert figures["p90_seconds"] == pytest.approx(p90, rel=rollup.RELATIVE_ERROR), stage
    assert (germany["escalated"], germany["escalation_rate"]) == (1, 0.25)
    assert (germany["clock_met"], germany["clock_breached"], germany["breach_rate"]) == (1, 1, 0.5)
    assert germany["ack_within_policy_share"] == pytest.approx(2 / 3)
    assert germany["ack_in_working_hours_share"] == pytest.approx(2 / 3)
    france = groups[("FR",)]
    assert france["count"] == 1
    assert france["durations"]["deliver"] == {"count": 0, "p50_seconds": None, "p90_seconds": None}
    # 7,200 s is in bucket 206; alone, its median is the middle of the bucket (rank 0.5).
    assert france["durations"]["close"]["p50_seconds"] == by_hand(206, 0, 1, 0.5)
    assert (france["escalation_rate"], france["breach_rate"]) == (1.0, 1.0)
    assert france["ack_within_policy_share"] == 0.0
    assert france["ack_in_working_hours_share"] is None


async def test_aggregates_by_period_type_and_priority(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    async with http(server.http) as client:
        months = await responses(client, world.gs, group_by="period", period="month")
        days = await responses(
            client, world.gs, group_by="period,priority", period="day",
            **{"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
        )  # fmt: skip
        types = await responses(client, world.gs, group_by=["type", "priority"])
    assert [(g["period"], g["count"]) for g in months.json()["groups"]] == [
        ("2026-03-01T00:00:00Z", 4),
        ("2026-04-01T00:00:00Z", 1),
    ]
    # Both of 2 March (UTC), though late_night was acknowledged on the 3rd in Berlin.
    assert [(g["period"], g["priority"], g["count"]) for g in days.json()["groups"]] == [
        ("2026-03-02T00:00:00Z", "urgent", 2)
    ]
    assert {
        key: g["count"] for key, g in by(types.json()["groups"], "type", "priority").items()
    } == {
        ("preservation", "urgent"): 2,
        ("preservation", "routine"): 1,
        ("subscriber_info", "routine"): 1,
        ("emergency_disclosure", "emergency"): 1,
    }


async def test_the_month_grain_answers_as_the_days_do(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    """By country pair over whole months the aggregates read the month cells; from a day that
    is not a month's first (2 March: the scene's first) they read the day cells. Over the
    same requests the answers are the same, to the last bucket."""
    await set_the_scene(db, world)
    await rebuild(database_url)
    from_march = {"from": "2026-03-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}
    from_the_2nd = {"from": "2026-03-02T00:00:00Z", "to": "2026-04-03T00:00:00Z"}
    async with http(server.http) as client:
        for group_by in ("target_country", "requesting_country,target_country", "period"):
            months = await responses(client, world.gs, group_by=group_by, **from_march)
            days = await responses(client, world.gs, group_by=group_by, **from_the_2nd)
            assert months.status_code == days.status_code == 200
            assert months.json()["groups"] == days.json()["groups"], group_by
            assert months.json()["groups"], group_by


@pytest.mark.parametrize(
    ("country", "role", "pairs"),
    [
        ("FR", Role.NCB, {("FR", "DE"): 4, ("JP", "FR"): 1}),
        ("JP", Role.NCB, {("JP", "FR"): 1}),
        ("DE", Role.NCB, {("FR", "DE"): 4}),
        ("DE", Role.CONTACT_POINT, {("FR", "DE"): 4}),
        ("FR", Role.UNIT, {("FR", "DE"): 4}),
        ("JP", Role.UNIT, {("JP", "FR"): 1}),
        ("FR", Role.CONTACT_POINT, {("JP", "FR"): 1}),
    ],
    ids=lambda value: value.value if isinstance(value, Role) else str(value),
)
async def test_a_country_counts_only_the_requests_it_sees(
    server: RunningServer,
    db: asyncpg.Connection,
    world: World,
    database_url: str,
    country: str,
    role: Role,
    pairs: dict[tuple[str, str], int],
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    async with http(server.http) as client:
        response = await responses(
            client, world(country, role), group_by="requesting_country,target_country"
        )
        # Naming another pair's country does not widen what is counted.
        narrowed = await responses(client, world(country, role), target_country="DE")
    assert response.status_code == 200, response.text
    groups = by(response.json()["groups"], "requesting_country", "target_country")
    assert {key: group["count"] for key, group in groups.items()} == pairs
    assert narrowed.json()["groups"][0]["count"] == pairs.get(("FR", "DE"), 0)


async def test_csv_has_a_line_per_group(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    async with http(server.http) as client:
        response = await responses(client, world.gs, group_by="target_country", format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    header = lines[0].split(",")
    assert header[:6] == [
        "target_country",
        "requesting_country",
        "type",
        "priority",
        "period",
        "count",
    ]
    germany = dict(zip(header, lines[1].split(","), strict=True))
    assert (germany["target_country"], germany["count"], germany["deliver_p90_seconds"]) == (
        "DE",
        "4",
        "120.495",
    )
    assert germany["breach_rate"] == "0.5"
    assert len(lines) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "colour"}, "group_by"),
        ({"group_by": "type,type"}, "group_by"),
        ({"period": "year"}, "period"),
        ({"from": "2026-03-02T00:00:00"}, "from"),
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "to"),
        ({"from": "2026-03-02T10:00:00Z"}, "from"),
        ({"to": "2026-03-02T00:00:00+01:00"}, "to"),
        ({"format": "xml"}, "format"),
        ({"target_country": "germany"}, "target_country"),
    ],
    ids=[
        "unknown-dimension",
        "twice",
        "period",
        "no-offset",
        "reversed",
        "from-inside-a-day",
        "to-not-utc-midnight",
        "format",
        "country",
    ],
)
async def test_bad_parameters_are_problems(
    server: RunningServer, world: World, params: dict[str, str], field: str
) -> None:
    async with http(server.http) as client:
        response = await responses(client, world.gs, **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text


async def test_a_partner_sees_no_analytics(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        response = await responses(client, world.partner("FR"))
        anonymous = await client.get("/v1/analytics/responses")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert anonymous.status_code == 401


async def test_nothing_to_count_is_one_empty_group(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        whole = await responses(client, world.gs)
        grouped = await responses(client, world.gs, group_by="type")
    assert whole.json()["groups"][0]["count"] == 0
    assert whole.json()["groups"][0]["escalation_rate"] is None
    assert grouped.json()["groups"] == []


async def test_a_drill_is_kept_out_of_the_figures(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    ids = await set_the_scene(db, world)
    # late_night, had it been a drill of Germany's desk: no row, no cell, no bucket.
    gs = world.gs
    drill = await db.fetchval(
        "INSERT INTO drills (id, target_country, priority, scheduled_by, scheduled_by_agency_id,"
        " window_start, window_end, due_at) VALUES (gen_random_uuid(), 'DE', 'urgent', $1, $2,"
        " $3, $3, $3) RETURNING id",
        gs.principal_id,
        gs.agency_id,
        at(SCENE["late_night"].created),
    )
    await db.execute("UPDATE requests SET drill_id = $2 WHERE id = $1", ids["late_night"], drill)
    code, output = await rebuild(database_url)
    assert code == 0, output
    assert "rebuilt: 4 request outcomes" in output, output
    assert ids["late_night"] not in await outcome_rows(db)
    assert await db.fetchval("SELECT sum(requests) FROM request_outcome_rollups") == 4
    assert await db.fetchval("SELECT sum(requests) FROM request_outcome_month_rollups") == 4


async def test_the_page_answers_days_at_the_end_of_the_calendar_with_a_problem(
    server: RunningServer, world: World
) -> None:
    """/web/analytics?to=9999-12-31 asks up to the midnight after the calendar's last day,
    which no time can hold: the page says so (it gave a 500)."""
    async with http(server.http) as client:
        signed_in = await client.post(
            "/web/sign-in",
            content=f"token={world.gs.token}",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": str(client.base_url).rstrip("/"),
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        for days in ("from=9999-12-31&to=9999-12-31", "from=2026-03-01&to=9999-12-31"):
            page = await client.get(f"/web/analytics?{days}")
            assert page.status_code == 200, page.text
            assert 'class="problem"' in page.text
            assert "9999-12-31" in page.text
        assert (await client.get("/web/analytics?from=2026-03-01&to=2026-04-30")).status_code == 200
