"""The supervisor restarts any loop that fails, says which loop is down or stuck, and lets a
loop that recovers count as healthy again."""

from __future__ import annotations

import asyncio

import pytest

from app.core.supervisor import Heartbeat, LoopState, Supervisor


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


async def test_a_loop_that_loses_its_cancellation_is_cancelled_again_and_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As the notifier did when a shutdown's cancellation landed while asyncpg.connect
    completed (Python 3.11): the loop goes on waiting for work, and the shutdown waited with
    it, forever."""
    started = asyncio.Event()
    swallowed = asyncio.Event()

    async def swallows_one_cancellation(beat: Heartbeat) -> None:
        beat()
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            assert current is not None
            current.uncancel()
            swallowed.set()
        await asyncio.Event().wait()  # waits for work that never comes

    supervisor = Supervisor()
    supervisor.add("swallows", swallows_one_cancellation, stall_after=None)
    async with asyncio.timeout(10):
        async with supervisor.running():
            await started.wait()
    assert swallowed.is_set()
    assert "loop relay247:swallows ignored its cancellation" in caplog.text
