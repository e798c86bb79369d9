"""Delivery's promise under load, on two real instances: every dashboard sees each offset of
its channels exactly once, in order, whether it resumes from an old cursor while requests
pour in or is cut off and resumes in a storm of reconnections. Completion is proven by a
sentinel event written after the load, never by a sleep."""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path

import pytest

from app.core.database.urls import asyncpg_dsn
from app.models.enums import Role
from tests.clients import http
from tests.conftest import free_port
from tests.factories import World, request_body
from tests.feeds import Recorder, channel_heads, until_sentinels
from tests.processes import environment, serving

pytestmark = pytest.mark.slow

COUNTRIES = ("FR", "DE", "JP")
DESKS = [f"desk:{country}" for country in COUNTRIES]


def ws_url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/v1/ws"


async def submit_many(bases: list[str], world: World, count: int, *, in_flight: int = 8) -> None:
    """``count`` requests between the test countries, spread over the instances."""
    routes = itertools.cycle(
        [(source, target) for source in COUNTRIES for target in COUNTRIES if source != target]
    )
    jobs = iter(range(count))

    async def worker(base: str) -> None:
        async with http(base) as client:
            for _ in jobs:
                source, target = next(routes)
                response = await client.post(
                    "/v1/requests", json=request_body(target), headers=world.unit(source).headers
                )
                assert response.status_code == 201, response.text

    await asyncio.gather(*(worker(bases[n % len(bases)]) for n in range(in_flight)))


def rss_kib(port: int) -> int:
    """Resident memory of the `relay247 serve` listening on ``port``."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"serve" not in cmdline or str(port).encode() not in cmdline:
                continue
            status = (proc / "status").read_text()
        except OSError:
            continue  # a process that ended meanwhile
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1])
    raise AssertionError(f"no relay247 serve on port {port}")


async def test_resumes_under_live_traffic_see_every_offset_once_in_order(
    world: World, database_url: str
) -> None:
    dsn = asyncpg_dsn(database_url)
    env = environment(DATABASE_URL=database_url)
    async with serving(free_port(), env) as first, serving(free_port(), env) as second:
        bases = [first, second]
        await submit_many(bases, world, 150)  # a history to resume into
        heads = await channel_heads(dsn, DESKS)
        rng = random.Random(2026)
        recorders = []
        for n in range(50):
            country = COUNTRIES[n % len(COUNTRIES)]
            party = world.desk(country) if n % 2 else world(country, Role.NCB)
            desk = f"desk:{country}"
            cursor = rng.randint(0, heads[desk])
            recorders.append(Recorder(ws_url(bases[n % 2]), party, {desk: cursor}))
        global_desk = Recorder(
            ws_url(second), world.gs, {desk: rng.randint(0, heads[desk]) for desk in DESKS}
        )
        recorders.append(global_desk)

        load = asyncio.create_task(submit_many(bases, world, 1000))
        for recorder in recorders:  # they join while the requests pour in
            recorder.start_running()
            await asyncio.sleep(0.03)
        await load
        sentinels = await until_sentinels(recorders, dsn, DESKS, seconds=60)

    problems = {n: r.problems() for n, r in enumerate(recorders) if r.problems()}
    assert not problems
    assert all(recorder.connections == 1 for recorder in recorders)
    # The global desk saw every request of the network, on every desk, live and resumed.
    for desk in DESKS:
        assert global_desk.offsets[desk][-1] == sentinels[desk]


async def test_a_reconnect_storm_loses_and_repeats_nothing_in_bounded_memory(
    world: World, database_url: str
) -> None:
    dsn = asyncpg_dsn(database_url)
    env = environment(DATABASE_URL=database_url)
    ports = [free_port(), free_port()]
    async with serving(ports[0], env) as first, serving(ports[1], env) as second:
        bases = [first, second]
        await submit_many(bases, world, 30)
        heads = await channel_heads(dsn, DESKS)
        memory_before = [rss_kib(port) for port in ports]
        recorders = [
            Recorder(
                ws_url(bases[n % 2]),
                world.desk(COUNTRIES[n % 3]),
                {DESKS[n % 3]: heads[DESKS[n % 3]]},
            )
            for n in range(200)
        ]
        for recorder in recorders:
            recorder.start_running()
        load = asyncio.create_task(submit_many(bases, world, 1000))
        await asyncio.gather(*(recorder.connected.wait() for recorder in recorders))
        await asyncio.sleep(2)  # well into the load
        assert not load.done()
        for recorder in recorders:  # every one cut off at once, all reconnect and resume
            recorder.drop()
        await load
        await until_sentinels(recorders, dsn, DESKS, seconds=90)
        growth = [rss_kib(port) - before for port, before in zip(ports, memory_before, strict=True)]

    problems = {n: r.problems() for n, r in enumerate(recorders) if r.problems()}
    assert not problems
    assert all(recorder.connections >= 2 for recorder in recorders)
    # 100 sockets per instance: far below what per-socket copies of the backlog would take.
    assert max(growth) < 48 * 1024, f"RSS grew by {growth} KiB"
