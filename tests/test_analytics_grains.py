"""The rollup's three grains (app/analytics/rollup.py: days, months by country pair, all time)
give the same aggregates: every query a coarser grain can answer, asked of it and of the
days, by every kind of reader, over a spread of final requests written as records and
rebuilt; and /metrics, now read from the all-time cells, gives what request_outcomes gives
when counted row by row."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url

from app.analytics import aggregates
from app.analytics.metrics import BUCKETS, OutcomeMetrics
from app.analytics.schemas import Dimension, Period, Stage
from app.core.database import Database
from app.identity.auth import Actor
from app.models.enums import AgencyKind, Priority, RequestStatus, RequestType, Role
from tests.conftest import TEST_DATABASE
from tests.factories import Party, World
from tests.outcomes import Records, write
from tests.test_analytics import rebuild
from tests.test_audit_chain import service_role_sql

D = Dimension
KINDS = {Role.GS: AgencyKind.GS, Role.NCB: AgencyKind.NCB, Role.UNIT: AgencyKind.UNIT}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def spread(count: int) -> list[Records]:
    """``count`` final requests between FR, DE and JP over five months of 2026, of every
    type and priority, with durations from seconds to weeks (a seeded spread)."""
    rng = random.Random(26)
    countries = ("FR", "DE", "JP")
    types = (RequestType.PRESERVATION, RequestType.SUBSCRIBER_INFO, RequestType.TRAFFIC_DATA)
    records = []
    for _ in range(count):
        sender = rng.choice(countries)
        target = rng.choice([code for code in countries if code != sender])
        created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.random() * 150 * 86400)
        delivered = created + timedelta(seconds=rng.lognormvariate(3.5, 1.5))
        acknowledged = delivered + timedelta(seconds=rng.lognormvariate(7, 1.5))
        responded = acknowledged + timedelta(seconds=rng.lognormvariate(10, 1.5))
        answered = rng.random() < 0.7
        closed = (responded if answered else acknowledged) + timedelta(
            seconds=rng.lognormvariate(8, 1)
        )
        records.append(
            Records(
                sender, target, _iso(created),
                RequestStatus.CLOSED if answered else RequestStatus.DECLINED, _iso(closed),
                type=rng.choice(types), priority=rng.choice(list(Priority)),
                delivered=_iso(delivered) if rng.random() < 0.9 else None,
                acknowledged=_iso(acknowledged) if rng.random() < 0.8 else None,
                responded=_iso(responded) if answered else None,
                first_ack_due=_iso(created + timedelta(minutes=30)),
                response_due=_iso(created + timedelta(days=rng.choice((1, 3, 10)))),
                escalation_step=rng.choice((0, 0, 0, 1, 2)),
            )
        )  # fmt: skip
    return records


def actor(party: Party) -> Actor:
    return Actor(
        principal_id=party.principal_id, token_id=uuid.uuid4(), agency_id=party.agency_id,
        country=party.country, role=party.role, name=party.role.value,
        agency_kind=KINDS.get(party.role, AgencyKind.UNIT),
    )  # fmt: skip


def month(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# Each query, with the coarser grains that can answer it (the days answer every one).
QUERIES: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"group_by": []}, ("total", "month")),
    ({"group_by": [D.TARGET_COUNTRY]}, ("total", "month")),
    ({"group_by": [D.REQUESTING_COUNTRY, D.TARGET_COUNTRY]}, ("total", "month")),
    ({"group_by": [D.TYPE, D.PRIORITY]}, ("total",)),
    ({"group_by": [D.TARGET_COUNTRY, D.PRIORITY]}, ("total",)),
    ({"group_by": [D.TYPE], "target_country": "DE"}, ("total",)),
    ({"group_by": [D.PRIORITY], "requesting_country": "FR"}, ("total",)),
    ({"group_by": [D.PERIOD]}, ("month",)),
    ({"group_by": [D.PERIOD, D.TARGET_COUNTRY], "start": month("2026-02-01")}, ("month",)),
    (
        {"group_by": [D.TARGET_COUNTRY], "start": month("2026-02-01"), "end": month("2026-04-01")},
        ("month",),
    ),
]


@pytest.mark.parametrize("role", [Role.GS, Role.NCB, Role.CONTACT_POINT, Role.UNIT])
async def test_every_grain_answers_as_the_days_do(
    db: asyncpg.Connection, world: World, database_url: str, role: Role
) -> None:
    for records in spread(80):
        await write(db, world, records)
    code, output = await rebuild(database_url)
    assert code == 0, output
    who = actor(world.gs if role is Role.GS else world("FR", role))
    database = Database(database_url, pool_size=1, max_overflow=0)
    try:
        answered = 0
        async with database.transaction() as session:
            for fields, grains in QUERIES:
                query = aggregates.Query(**fields)
                days = await aggregates.aggregate(session, who, query, grain="day")
                answered += sum(group.count for group in days.groups)
                if role is Role.GS and set(fields) == {"group_by"}:
                    assert sum(group.count for group in days.groups) == 80, fields
                for grain in grains:
                    coarser = await aggregates.aggregate(session, who, query, grain=grain)
                    assert coarser == days, (grain, fields)
                # What the service reads by default is one of them.
                assert await aggregates.aggregate(session, who, query) == days
            by_week = aggregates.Query(group_by=[D.PERIOD], period=Period.WEEK)
            assert (await aggregates.aggregate(session, who, by_week)).groups
        assert answered > 0  # every reader sees some of them
    finally:
        await database.dispose()


async def test_metrics_from_the_totals_are_what_the_rows_give(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    for records in spread(60):
        await write(db, world, records)
    assert (await rebuild(database_url))[0] == 0
    database = Database(database_url, pool_size=1, max_overflow=0)
    try:
        metrics = OutcomeMetrics(database)
        await metrics.count()
        counted = metrics._counted
    finally:
        await database.dispose()
    rows = await db.fetch("SELECT * FROM request_outcomes")
    assert {row["priority"] for row in rows} == set(counted)
    for priority, figures in counted.items():
        mine = [row for row in rows if row["priority"] == priority]
        assert figures.escalated == sum(1 for row in mine if row["escalation_steps"] > 0)
        for stage in Stage:
            seconds = [
                row[f"{stage}_seconds"] for row in mine if row[f"{stage}_seconds"] is not None
            ]
            expected = [
                (str(float(bound)), sum(1 for value in seconds if value <= bound))
                for bound in BUCKETS
            ] + [("+Inf", len(seconds))]
            assert figures.buckets[stage] == expected, (priority, stage)
            assert figures.sums[stage] == pytest.approx(sum(seconds), abs=1e-6)


async def test_the_check_covers_the_all_time_cells(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    for records in spread(10):
        await write(db, world, records)
    assert (await rebuild(database_url))[0] == 0
    assert (await rebuild(database_url, "--check"))[0] == 0
    await db.execute(
        "UPDATE request_outcome_totals SET close_micros = close_micros + 1 WHERE ctid = "
        "(SELECT min(ctid) FROM request_outcome_totals)"
    )
    code, output = await rebuild(database_url, "--check")
    assert code == 1
    assert output.strip() == (
        "the rollup differs from request_outcomes: 1 row(s) it does not give, 1 row(s) it "
        "gives that the rollup lacks"
    )
    assert (await rebuild(database_url))[0] == 0
    assert (await rebuild(database_url, "--check"))[0] == 0


async def test_the_service_role_rebuilds_though_it_may_not_summarize_the_day_index(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    """The rebuild summarizes the day buckets' block range index, which only its owner may:
    as the documented service role (docs/audit-chain.md) it rebuilds all the same."""
    for records in spread(10):
        await write(db, world, records)
    role = f"{TEST_DATABASE}_analytics"  # roles are per server: one per test database name
    if await db.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        await db.execute(f'DROP OWNED BY "{role}"')
        await db.execute(f'DROP ROLE "{role}"')
    for statement in service_role_sql(role, TEST_DATABASE):
        await db.execute(statement)
    url = make_url(database_url).set(username=role, password="change-me")
    try:
        code, output = await rebuild(url.render_as_string(hide_password=False))
        assert (code, output.strip()) == (0, "rebuilt: 10 request outcomes")
    finally:
        await db.execute(f'DROP OWNED BY "{role}"')
        await db.execute(f'DROP ROLE "{role}"')
    assert (await rebuild(database_url, "--check"))[0] == 0
