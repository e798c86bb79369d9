"""The supervisor restarts any loop that fails, says which loop is down or stuck, and lets a
loop that recovers count as healthy again."""

from __future__ import annotations

import asyncio

from app.supervisor import Heartbeat, LoopState, Supervisor


async def test_a_failing_loop_is_restarted_and_reported_down_until_it_works() -> None:
    attempts = 0
    working = asyncio.Event()
    release = asyncio.Event()

    async def flaky(beat: Heartbeat) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            await release.wait()
            raise ConnectionRefusedError("database down")
        beat()
        working.set()
        await asyncio.Event().wait()

    supervisor = Supervisor()
    supervisor.add("flaky", flaky, stall_after=None)
    restarted: list[str] = []
    supervisor.on_restart(restarted.append)
    async with supervisor.running():
        release.set()
        await asyncio.sleep(0.05)
        assert "ConnectionRefusedError" in supervisor.problems()["flaky"]
        await asyncio.wait_for(working.wait(), 5)
        health = supervisor.health["flaky"]
        assert (health.state, health.restarts) == (LoopState.UP, 3)
        assert supervisor.problems() == {}
    assert restarted == ["flaky"] * 3


async def test_a_loop_that_stops_beating_is_reported_stuck() -> None:
    async def hangs_after_one_beat(beat: Heartbeat) -> None:
        beat()
        await asyncio.Event().wait()

    supervisor = Supervisor()
    supervisor.add("hangs", hangs_after_one_beat, stall_after=0.2)
    async with supervisor.running():
        await asyncio.sleep(0.05)
        assert supervisor.problems() == {}
        await asyncio.sleep(0.3)
        assert "stuck" in supervisor.problems()["hangs"]


async def test_a_loop_that_returns_is_started_again() -> None:
    runs = 0
    third = asyncio.Event()

    async def returns(beat: Heartbeat) -> None:
        nonlocal runs
        runs += 1
        beat()
        if runs == 3:
            third.set()

    supervisor = Supervisor()
    supervisor.add("returns", returns, stall_after=None)
    async with supervisor.running():
        await asyncio.wait_for(third.wait(), 5)
    assert supervisor.health["returns"].last_error == "returned, which a loop must not do"
