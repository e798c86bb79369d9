"""Cyber analytical reports' contents: a country's report holds the figures worked out by hand
for the scene of tests/test_analytics.py and no pair it may not see; the network's and the
other side's hold theirs; drills have their own section and stay out of the request figures;
shared and matched data are counted as each country reads them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import httpx

from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.drills import bring_due, request_of, scheduled
from tests.factories import World
from tests.reports import download, figures, generate, today
from tests.shared_scene import SharedDataScene
from tests.test_analytics import rebuild, set_the_scene
from tests.waiting import eventually


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
    # Volumes count the submitted requests, the one still open too (in progress, an urgent
    # preservation like late_night and cancelled_early).
    submitted = {(g, m): v for (s, g, m), v in data.items() if s == "submitted"}
    pair = "target_country=DE;requesting_country=FR"
    assert submitted == {
        (f"{pair};type=preservation;priority=urgent", "count"): "3",
        (f"{pair};type=preservation;priority=urgent", "open"): "1",
        (f"{pair};type=subscriber_info;priority=routine", "count"): "1",
        (f"{pair};type=subscriber_info;priority=routine", "open"): "0",
        (f"{pair};type=emergency_disclosure;priority=emergency", "count"): "1",
        (f"{pair};type=emergency_disclosure;priority=emergency", "open"): "0",
    }
    assert data[("report", "", "previous_period_submitted")] == "0"


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
        day = today()
        period = {"from": str(day), "to": str(day + timedelta(days=1))}
        germany = world("DE", Role.NCB)
        ours = figures(
            await download(client, germany, await generate(client, germany, "DE", **period), "csv")
        )
        network = await generate(client, world.gs, "network", **period)
        everything = figures(await download(client, world.gs, network, "csv"))
    assert ours[("total", "", "count")] == "0"
    assert everything[("total", "", "count")] == "0"
    assert not [key for key in {**ours, **everything} if key[0] == "submitted"]
    assert ours[("drills", "country=DE", "sent")] == "1"
    assert ours[("drills", "country=DE", "acknowledged")] == "1"
    assert not [key for key in ours if key[1] == "country=JP"]
    assert everything[("drills", "country=JP", "sent")] == "1"
    assert everything[("drills", "country=JP", "acknowledged")] == "0"


class _Scene(SharedDataScene):
    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client = client
        self.world = world


def _counts(data: dict[tuple[str, str, str], str], section: str) -> dict[str, str]:
    return {group: value for (s, group, _m), value in data.items() if s == section}


async def test_shared_and_matched_data_counted_as_each_country_reads_it(
    server: RunningServer, db: asyncpg.Connection, world: World
) -> None:
    """Germany's unit shares two objects with Germany alone, one of them naming the address a
    request France sent to Germany names (a match); a partner's object is accepted into the
    gateway; another waits in quarantine (shared with nobody yet)."""
    async with http(server.http) as client:
        scene = _Scene(client, world)
        await scene.shared()
        await scene.shared_request_address()
        request_id = await scene.matched_request()
        await scene.accepted()
        await scene.submission()

        async def matched() -> bool:
            found = await db.fetchval(
                "SELECT count(*) FROM request_matches WHERE request_id = $1",
                uuid.UUID(request_id),
            )
            return bool(found)

        await eventually(matched)
        day = today()
        period = {"from": str(day), "to": str(day + timedelta(days=1))}
        shown = {}
        for scope, party in (
            ("network", world.gs),
            ("DE", world("DE", Role.NCB)),
            ("FR", world("FR", Role.NCB)),
            ("JP", world("JP", Role.NCB)),
        ):
            report = await generate(client, party, scope, **period)
            shown[scope] = figures(await download(client, party, report, "csv"))
    german_share = "collection=DE unit's share;kind=share"
    gateways = {group for group in _counts(shown["network"], "shared") if "kind=gateway" in group}
    assert len(gateways) == 1
    gateway = gateways.pop()
    assert _counts(shown["network"], "shared") == {german_share: "2", gateway: "1"}
    assert _counts(shown["DE"], "shared") == {german_share: "2", gateway: "1"}
    # Germany's share is not France's nor Japan's to read; the gateway is everyone's.
    assert _counts(shown["FR"], "shared") == {gateway: "1"}
    assert _counts(shown["JP"], "shared") == {gateway: "1"}
    assert _counts(shown["network"], "matched") == {german_share: "1"}
    assert _counts(shown["DE"], "matched") == {german_share: "1"}
    # France sent the request but may not read the object; Japan sees neither side.
    assert _counts(shown["FR"], "matched") == {}
    assert _counts(shown["JP"], "matched") == {}
