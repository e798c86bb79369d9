"""Who reaches which report (a country never another's, nor the network's: 404), every
generation and download audited, bad input a problem and never a 500, and periodic reports
made once per period by two workers racing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.audit.keys import KeyHolder
from app.core.database import Database
from app.core.settings import Settings
from app.models.enums import Role
from app.reports import worker
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World
from tests.reports import SPRING, download, generate, today


async def test_generation_and_each_download_are_audited(
    server: RunningServer, db: asyncpg.Connection, world: World
) -> None:
    germany = world("DE", Role.NCB)
    async with http(server.http) as client:
        report = await generate(client, germany, "DE")
        await download(client, germany, report, "pdf")
        await download(client, germany, report, "manifest")
    rows = await db.fetch(
        "SELECT action, actor_principal_id, countries, details FROM audit_entries "
        "WHERE object_type = 'report' AND object_id = $1 ORDER BY id",
        report["id"],
    )
    assert [row["action"] for row in rows] == [
        "report.generated",
        "report.downloaded",
        "report.downloaded",
    ]
    assert all(row["actor_principal_id"] == germany.principal_id for row in rows)
    assert all(row["countries"] == ["DE"] for row in rows)


async def test_each_download_is_kept_by_no_cache_and_never_sniffed(
    server: RunningServer, world: World
) -> None:
    """Each download is audited: a copy a cache kept would be read with no entry. Like an
    evidence file's, it is no-store, nosniff, and a sandbox were a browser to render it."""
    germany = world("DE", Role.NCB)
    async with http(server.http) as client:
        report = await generate(client, germany, "DE")
        for part in ("pdf", "csv", "manifest"):
            response = await client.get(report["links"][part], headers=germany.headers)
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == "no-store", part
            assert response.headers["x-content-type-options"] == "nosniff", part
            assert response.headers["content-security-policy"].startswith("sandbox"), part


async def test_a_country_never_reaches_another_countrys_report_nor_the_networks(
    server: RunningServer, world: World
) -> None:
    germany, japan = world("DE", Role.NCB), world("JP", Role.NCB)
    async with http(server.http) as client:
        german = await generate(client, germany, "DE")
        network = await generate(client, world.gs, "network")
        for party in (japan, germany):
            listed = await client.get("/v1/reports", headers=party.headers)
            assert listed.status_code == 200
            ids = {item["id"] for item in listed.json()["items"]}
            assert network["id"] not in ids
            assert (german["id"] in ids) is (party is germany)
        for path in ("", "/pdf", "/csv", "/manifest"):
            for party, report in ((japan, german), (germany, network)):
                answer = await client.get(
                    f"/v1/reports/{report['id']}{path}", headers=party.headers
                )
                assert answer.status_code == 404, (path, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
        # Asking for another country's, or the network's: refused with the reason.
        for party, scope in ((japan, "DE"), (germany, "network"), (world.unit("DE"), "DE")):
            answer = await client.post(
                "/v1/reports", json={"scope": scope, **SPRING}, headers=party.headers
            )
            assert answer.status_code == 403, answer.text
        everything = await client.get("/v1/reports?scope=DE", headers=world.gs.headers)
        assert [item["id"] for item in everything.json()["items"]] == [german["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "D\x00", **SPRING},
        {"scope": "de", **SPRING},
        {"scope": "QQ", **SPRING},  # no such country
        {"scope": "DE", "from": "2026-13-01", "to": "2026-05-01"},
        {"scope": "DE", "from": "0001-01-01", "to": "0001-01-02"},
        {"scope": "DE", "from": "9999-12-30", "to": "9999-12-31"},
        {"scope": "DE", "from": "2026-05-01", "to": "2026-03-01"},
        {"scope": "DE", "from": "2026-03-01", "to": "2026-03-01"},
        {"scope": "DE", "from": "2024-01-01", "to": "2026-01-01"},  # more than 366 days
        {"scope": "DE", **SPRING, "kind": "weekly"},
        {"scope": "DE"},
        {"scope": "DE", "from": "\x00", "to": "2026-05-01"},
    ],
)
async def test_bad_input_is_a_problem_not_a_500(
    server: RunningServer, world: World, body: dict[str, Any]
) -> None:
    async with http(server.http) as client:
        answer = await client.post("/v1/reports", json=body, headers=world.gs.headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/reports?scope=%00",
        "/v1/reports?scope=Germany",
        "/v1/reports?kind=daily",
        "/v1/reports?cursor=%00",
        "/v1/reports/not-a-uuid",
        "/v1/reports/not-a-uuid/pdf",
    ],
)
async def test_bad_queries_are_problems(server: RunningServer, world: World, path: str) -> None:
    async with http(server.http) as client:
        answer = await client.get(path, headers=world.gs.headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


async def test_an_unknown_report_is_404(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        answer = await client.get(f"/v1/reports/{uuid.uuid4()}/csv", headers=world.gs.headers)
    assert answer.status_code == 404


async def test_two_workers_racing_make_each_periodic_report_once(
    db: asyncpg.Connection, world: World, database_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_environment()
    key_path = settings.audit.signing_key_path(settings.database)
    instances = [Database(database_url, pool_size=2, max_overflow=0) for _ in range(2)]
    try:
        day = today()
        made = await _race(instances, key_path, day)
        countries = await db.fetchval("SELECT count(*) FROM countries")
        expected = 2 * (countries + 1)  # weekly and monthly, the network and each country
        assert sum(made) == expected
        rows = await db.fetch("SELECT scope, kind, count(*) AS n FROM reports GROUP BY scope, kind")
        assert len(rows) == expected
        assert all(row["n"] == 1 for row in rows)
        generated = await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action = 'report.generated'"
        )
        assert generated == expected
        # Again: nothing is due any more.
        assert sum(await _race(instances, key_path, day)) == 0
        # The week before last and the month before: their periods, whole and ended.
        weekly = await db.fetchrow(
            "SELECT period_start, period_end FROM reports WHERE kind = 'weekly' LIMIT 1"
        )
        assert weekly["period_start"].weekday() == 0
        assert weekly["period_end"] - weekly["period_start"] == timedelta(days=7)
        assert weekly["period_end"].date() <= day
    finally:
        for instance in instances:
            await instance.dispose()


async def _race(instances: list[Database], key_path: Path, today: date) -> list[int]:
    return list(
        await asyncio.gather(
            *(worker.make_due(instance, KeyHolder(key_path), today) for instance in instances)
        )
    )


async def test_a_stored_report_is_never_rewritten(
    server: RunningServer, db: asyncpg.Connection, world: World
) -> None:
    async with http(server.http) as client:
        report = await generate(client, world.gs, "network")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="written once"):
        await db.execute("UPDATE reports SET csv = 'forged' WHERE id = $1", uuid.UUID(report["id"]))


async def test_reports_that_cannot_be_made_fail_the_look_after_every_one_is_tried(
    db: asyncpg.Connection, world: World, database_url: str, tmp_path: Path
) -> None:
    """A key file that cannot be read fails each report: every due report is tried, none is
    half-stored, and the look raises (the supervisor counts it) instead of only logging."""
    broken = tmp_path / "audit-signing-key.pem"
    broken.write_text("not a key")
    instance = Database(database_url, pool_size=1, max_overflow=0)
    try:
        countries = await db.fetchval("SELECT count(*) FROM countries")
        with pytest.raises(worker.ReportsNotMade) as failure:
            await worker.make_due(instance, KeyHolder(broken), today())
        assert (failure.value.made, failure.value.failed) == (0, 2 * (countries + 1))
        assert await db.fetchval("SELECT count(*) FROM reports") == 0
        assert (
            await db.fetchval(
                "SELECT count(*) FROM audit_entries WHERE action = 'report.generated'"
            )
            == 0
        )
    finally:
        await instance.dispose()
