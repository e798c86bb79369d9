"""Waiting in tests for what happens in the background (a worker, a flush, a push)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30) -> None:
    """Return as soon as ``check()`` is true; fail if it is still false after ``within`` s."""
    for _ in range(int(within / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {within} s")
