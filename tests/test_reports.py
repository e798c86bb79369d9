"""Cyber analytical reports: a country's report holds the figures worked out by hand for the
scene of tests/test_analytics.py and no pair it may not see; its files verify offline with
`relay247 report verify`, and a byte changed in any of them, or an unknown key, is caught;
every generation and download is audited; periodic reports are made once per period by two
workers racing; and bad input is a problem, not a 500."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.audit.keys import KeyHolder, SigningKey
from app.core.database import Database
from app.core.settings import Settings
from app.models.enums import Role
from app.reports import worker
from tests.cli_runner import invoke
from tests.clients import http
from tests.conftest import RunningServer
from tests.drills import bring_due, request_of, scheduled
from tests.factories import Party, World
from tests.processes import environment
from tests.test_analytics import rebuild, set_the_scene

SPRING = {"from": "2026-03-01", "to": "2026-05-01"}
# No database answers there: `report verify` must not need one.
NO_DATABASE = environment(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")


async def generate(
    client: httpx.AsyncClient, party: Party, scope: str, **period: str
) -> dict[str, Any]:
    response = await client.post(
        "/v1/reports", json={"scope": scope, **(period or SPRING)}, headers=party.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def download(
    client: httpx.AsyncClient, party: Party, report: dict[str, Any], part: str
) -> bytes:
    response = await client.get(report["links"][part], headers=party.headers)
    assert response.status_code == 200, response.text
    return response.content


def figures(data: bytes) -> dict[tuple[str, str, str], str]:
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["section", "group", "metric", "value"]
    return {(section, group, metric): value for section, group, metric, value in rows[1:]}


async def test_a_countrys_report_holds_the_hand_computed_figures_and_no_other_pair(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    germany = world("DE", Role.NCB)
    async with http(server.http) as client:
        report = await generate(client, germany, "DE")
        data = figures(await download(client, germany, report, "csv"))
        pdf = await download(client, germany, report, "pdf")
    assert pdf.startswith(b"%PDF-")
    assert report["scope"] == "DE"
    assert report["kind"] == "on_demand"
    assert data[("report", "", "scope")] == "DE"
    # Germany received four final requests (late_night, after_dst, paused, cancelled_early),
    # all from France, and sent none; Japan's to France is none of its business.
    assert data[("total", "", "count")] == "4"
    assert data[("total", "", "escalated")] == "1"
    assert data[("total", "", "clock_met")] == "1"
    assert data[("total", "", "clock_breached")] == "1"
    assert data[("total", "", "breach_rate")] == "0.5"
    assert data[("total", "", "acknowledge_count")] == "3"
    assert data[("report", "", "previous_period_count")] == "0"
    types = {g: v for (s, g, m), v in data.items() if s == "by_type" and m == "count"}
    assert types == {
        "type=preservation": "2",
        "type=subscriber_info": "1",
        "type=emergency_disclosure": "1",
    }
    priorities = {g: v for (s, g, m), v in data.items() if s == "by_priority" and m == "count"}
    assert priorities == {
        "priority=urgent": "2",
        "priority=routine": "1",
        "priority=emergency": "1",
    }
    pairs = {g for (s, g, _m) in data if s == "by_country_pair"}
    assert pairs == {"target_country=DE;requesting_country=FR"}
    assert not [key for key in data if "JP" in key[1]]
    days = {g: v for (s, g, m), v in data.items() if s == "trend_day" and m == "count"}
    assert sum(int(v) for v in days.values()) == 4


async def test_the_network_and_the_other_side_see_their_own_pairs(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    france = world("FR", Role.NCB)
    async with http(server.http) as client:
        french = figures(
            await download(client, france, await generate(client, france, "FR"), "csv")
        )
        network = await generate(client, world.gs, "network")
        everything = figures(await download(client, world.gs, network, "csv"))
    assert {g for (s, g, _m) in french if s == "by_country_pair"} == {
        "target_country=DE;requesting_country=FR",
        "target_country=FR;requesting_country=JP",
    }
    assert french[("total", "", "count")] == "5"
    assert everything[("total", "", "count")] == "5"
    assert everything[("report", "", "scope")] == "network"


async def _files(
    client: httpx.AsyncClient, party: Party, report: dict[str, Any], folder: Path
) -> list[Path]:
    paths = []
    for part, name in (("pdf", "report.pdf"), ("csv", "report.csv"), ("manifest", "manifest.json")):
        path = folder / name
        path.write_bytes(await download(client, party, report, part))
        paths.append(path)
    return paths


async def verify(*paths: Path, key: str) -> tuple[int, str]:
    code, out, err = await invoke(
        "report", "verify", *map(str, paths), "--key", key, env=NO_DATABASE
    )
    return code, out + err


async def test_the_files_verify_offline_and_any_changed_byte_is_caught(
    server: RunningServer, world: World, tmp_path: Path
) -> None:
    async with http(server.http) as client:
        report = await generate(client, world.gs, "network")
        paths = await _files(client, world.gs, report, tmp_path)
        keys = await client.get("/v1/audit/public-keys", headers=world.gs.headers)
    keys_file = tmp_path / "keys.json"
    keys_file.write_bytes(keys.content)
    code, output = await verify(*paths, key=str(keys_file))
    assert code == 0, output
    assert f"report verified: {report['id']}" in output
    assert "report of the network" in output

    faults = {
        "report.pdf": "the PDF is not the one the manifest names",
        "report.csv": "the CSV is not the one the manifest names",
        "manifest.json": "the manifest",
    }
    for path in paths:
        original = path.read_bytes()
        for offset in (0, len(original) // 2, len(original) - 1):
            changed = bytearray(original)
            changed[offset] ^= 0x01
            path.write_bytes(bytes(changed))
            code, output = await verify(*paths, key=str(keys_file))
            assert code == 1, (path.name, offset, output)
            assert "report FAULT" in output
            assert faults[path.name] in output, output
        path.write_bytes(original)
    # A member of the manifest rewritten, the JSON still valid: the signature fails.
    manifest = paths[2].read_bytes()
    paths[2].write_bytes(manifest.replace(b'"scope":"network"', b'"scope":"DE"'))
    code, output = await verify(*paths, key=str(keys_file))
    assert code == 1
    assert "signature does not verify" in output
    paths[2].write_bytes(manifest)

    # The right files under a key the service never had.
    stranger = base64.b64encode(SigningKey.generate().public_key).decode()
    code, output = await verify(*paths, key=stranger)
    assert code == 1
    assert "none of the keys given" in output
    # The service's raw public key works too, and a key that is no key is a usage error.
    published = keys.json()["items"][0]["public_key"]
    assert (await verify(*paths, key=published))[0] == 0
    assert (await verify(*paths, key="not a key"))[0] == 2


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


def _today() -> date:
    return datetime.now(UTC).date()


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
        today = _today()
        made = await _race(instances, key_path, today)
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
        assert sum(await _race(instances, key_path, today)) == 0
        # The week before last and the month before: their periods, whole and ended.
        weekly = await db.fetchrow(
            "SELECT period_start, period_end FROM reports WHERE kind = 'weekly' LIMIT 1"
        )
        assert weekly["period_start"].weekday() == 0
        assert weekly["period_end"] - weekly["period_start"] == timedelta(days=7)
        assert weekly["period_end"].date() <= today
    finally:
        for instance in instances:
            await instance.dispose()


async def _race(instances: list[Database], key_path: Path, today: date) -> list[int]:
    return list(
        await asyncio.gather(
            *(worker.make_due(instance, KeyHolder(key_path), today) for instance in instances)
        )
    )


async def test_drills_have_their_section_and_stay_out_of_the_request_figures(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    async with http(server.http) as client:
        german, japanese = await scheduled(client, world.gs, "DE", "JP")
        await bring_due(db, german, japanese)
        request_id = await request_of(db, german)
        await request_of(db, japanese)
        acked = await client.post(
            f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers
        )
        assert acked.status_code == 200, acked.text
        # Even a drill made final is no real request: the rollup leaves it out.
        await db.execute(
            "UPDATE requests SET status = 'closed', closed_at = now() WHERE drill_id IS NOT NULL"
        )
        assert (await rebuild(database_url))[0] == 0
        today = _today()
        period = {"from": str(today), "to": str(today + timedelta(days=1))}
        germany = world("DE", Role.NCB)
        ours = figures(
            await download(client, germany, await generate(client, germany, "DE", **period), "csv")
        )
        network = await generate(client, world.gs, "network", **period)
        everything = figures(await download(client, world.gs, network, "csv"))
    assert ours[("total", "", "count")] == "0"
    assert everything[("total", "", "count")] == "0"
    assert ours[("drills", "country=DE", "sent")] == "1"
    assert ours[("drills", "country=DE", "acknowledged")] == "1"
    assert not [key for key in ours if key[1] == "country=JP"]
    assert everything[("drills", "country=JP", "sent")] == "1"
    assert everything[("drills", "country=JP", "acknowledged")] == "0"


async def test_the_command_generates_a_report_that_verifies_offline(
    world: World, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    env = environment(DATABASE_URL=database_url, RELAY247_DATA_DIR=str(tmp_path / "data"))
    out = tmp_path / "out"
    code, stdout, stderr = await invoke(
        "report", "generate", "--scope", "DE", "--from", "2026-03-01", "--to", "2026-04-01",
        "--out", str(out), env=env,
    )  # fmt: skip
    assert code == 0, stdout + stderr
    files = sorted(out.iterdir())
    assert [path.name for path in files] == [
        "relay247-report-DE-2026-03-01.csv",
        "relay247-report-DE-2026-03-01.manifest.json",
        "relay247-report-DE-2026-03-01.pdf",
    ]
    csv_file, manifest, pdf_file = files
    key = await db.fetchval("SELECT public_key FROM audit_signing_keys ORDER BY valid_from DESC")
    code, output = await verify(pdf_file, csv_file, manifest, key=base64.b64encode(key).decode())
    assert code == 0, output
    entry = await db.fetchrow(
        "SELECT actor_principal_id, countries FROM audit_entries WHERE action = 'report.generated'"
    )
    assert entry["actor_principal_id"] is None
    assert entry["countries"] == ["DE"]
    # A period no report covers is refused before anything is made.
    code, _, stderr = await invoke(
        "report", "generate", "--scope", "DE", "--from", "2026-04-01", "--to", "2026-03-01",
        env=env,
    )  # fmt: skip
    assert code == 2
    assert "must be after `from`" in stderr
