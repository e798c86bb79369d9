"""Supervised background work: every loop of an instance runs here, is restarted on any error,
and keeps a health record that /readyz and /metrics read.

A loop is a coroutine function taking a :class:`Heartbeat`. It calls ``beat()`` whenever it
has shown it works (connected, read, swept), and runs until cancelled. A loop counts as up
from its first beat after a (re)start until it fails, and as stuck when it has not beaten for
longer than its ``stall_after``: a loop blocked forever on a dead connection is as down as one
that raised. An error never ends a loop for good: it is logged and the loop is started again
after a backoff that grows while it keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from app.core.observability.redaction import traceback_without_messages

log = logging.getLogger(__name__)

_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 5.0
# A loop that ran this long since its last start is healthy again: the next failure starts
# the backoff from the beginning.
_BACKOFF_RESET_AFTER = 30.0
# A loop still running this long after its cancellation has lost it, and is cancelled again.
_RECANCEL_AFTER = 1.0


class LoopState(enum.StrEnum):
    STARTING = "starting"  # started, not yet beaten
    UP = "up"
    RESTARTING = "restarting"  # failed; waiting out its backoff


class Heartbeat:
    def __init__(self, health: LoopHealth) -> None:
        self._health = health

    def __call__(self) -> None:
        self._health.last_beat = time.monotonic()
        self._health.state = LoopState.UP


@dataclass(slots=True)
class LoopHealth:
    name: str
    stall_after: float | None  # seconds without a beat that make the loop stuck; None: never
    state: LoopState = LoopState.STARTING
    restarts: int = 0
    last_error: str | None = None
    last_beat: float | None = None
    started_at: float = field(default_factory=time.monotonic)

    def problem(self, now: float) -> str | None:
        """Why this loop is not healthy, or None when it is."""
        if self.state is LoopState.RESTARTING:
            return f"down, restarting after {self.last_error}"
        if self.state is LoopState.STARTING:
            # A slow start is only a problem once it has lasted longer than a stall would.
            if self.stall_after is not None and now - self.started_at > self.stall_after:
                return f"not started after {now - self.started_at:.0f}s" + (
                    f" (last error: {self.last_error})" if self.last_error else ""
                )
            return None
        if (
            self.stall_after is not None
            and self.last_beat is not None
            and now - self.last_beat > self.stall_after
        ):
            return f"stuck: no progress for {now - self.last_beat:.0f}s"
        return None

    def is_up(self) -> bool:
        return self.problem(time.monotonic()) is None and self.state is LoopState.UP

    def as_json(self, now: float) -> dict[str, object]:
        since_beat = None if self.last_beat is None else round(now - self.last_beat, 1)
        return {
            "state": self.state.value,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "seconds_since_beat": since_beat,
            "problem": self.problem(now),
        }


LoopFunction = Callable[[Heartbeat], Awaitable[None]]
RestartHook = Callable[[str], None]


class Supervisor:
    def __init__(self) -> None:
        self._loops: dict[str, tuple[LoopFunction, LoopHealth]] = {}
        self._on_restart: list[RestartHook] = []

    def add(self, name: str, loop: LoopFunction, *, stall_after: float | None) -> None:
        if name in self._loops:
            raise ValueError(f"a loop named {name} is already supervised")
        self._loops[name] = (loop, LoopHealth(name, stall_after))

    def on_restart(self, hook: RestartHook) -> None:
        """``hook(loop_name)`` after each failure (metrics count restarts with it)."""
        self._on_restart.append(hook)

    @property
    def health(self) -> dict[str, LoopHealth]:
        return {name: health for name, (_, health) in self._loops.items()}

    def problems(self) -> dict[str, str]:
        """Loop name → what is wrong with it, for every loop that is down or stuck."""
        now = time.monotonic()
        found = {name: health.problem(now) for name, health in self.health.items()}
        return {name: problem for name, problem in found.items() if problem is not None}

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self._supervise(loop, health), name=f"relay247:{name}")
            for name, (loop, health) in self._loops.items()
        ]
        try:
            yield
        finally:
            await _stop(tasks)

    async def _supervise(self, loop: LoopFunction, health: LoopHealth) -> None:
        backoff = _FIRST_BACKOFF
        while True:
            health.state = LoopState.STARTING
            health.started_at = time.monotonic()
            try:
                await loop(Heartbeat(health))
                error = "returned, which a loop must not do"
                log.error("loop %s %s; restarting it", health.name, error)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = type(exc).__name__
                # Class names and frames only: an exception's message may quote data.
                log.error(
                    "loop %s failed; restarting it\n%s",
                    health.name,
                    traceback_without_messages(exc),
                )
            health.state = LoopState.RESTARTING
            health.restarts += 1
            health.last_error = error
            for hook in self._on_restart:
                hook(health.name)
            if time.monotonic() - health.started_at > _BACKOFF_RESET_AFTER:
                backoff = _FIRST_BACKOFF
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel every loop and wait until each has stopped. A loop can lose its cancellation:
    on Python 3.11 one that lands as asyncpg.connect completes is swallowed (asyncio.wait_for's
    race), and the loop then waits for work forever, and the shutdown with it. Such a loop is
    cancelled again until it stops."""
    for task in tasks:
        task.cancel()
    running = set(tasks)
    while running:
        _, running = await asyncio.wait(running, timeout=_RECANCEL_AFTER)
        for task in running:
            log.warning("loop %s ignored its cancellation; cancelled again", task.get_name())
            task.cancel()
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so that asyncio does not report it as never seen
