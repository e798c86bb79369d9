"""Waiting in tests for what happens in the background (a worker, a flush, a push)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30) -> None:
    """Return as soon as ``check()`` is true; fail if it is still false after ``within`` s."""
    for _ in range(int(within / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {within} s")


async def beats(app: Any, loop: str, count: int, within: float = 30) -> None:
    """Return once the supervised ``loop`` of the in-process ``app`` has beaten ``count`` more
    times: the loops that work in rounds beat at the end of each, so that many more rounds
    ran (a beat is a timestamp, looked at every 5 ms: two in one look count as one, which
    only waits longer)."""
    health = app.state.supervisor.health[loop]
    seen = health.last_beat
    async with asyncio.timeout(within):
        for _ in range(count):
            while health.last_beat == seen:  # noqa: ASYNC110 (a beat sets no event)
                await asyncio.sleep(0.005)
            seen = health.last_beat
