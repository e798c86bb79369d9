"""CPU time spent over a window of the benchmark, by who spent it.

* the server: utime + stime of ``relay247 serve`` (and its workers), from ``/proc``;
* the load client: this process (``getrusage(RUSAGE_SELF)``), or, for a compiled load
  generator run as a child, the children waited for in the window (``RUSAGE_CHILDREN``);
* Postgres: the backends connected to the bench database, when Postgres runs on this
  machine (their pids are visible in ``/proc``). Approximate: a backend that disconnects
  within the window takes its CPU with it, and the shared processes (WAL writer,
  checkpointer) are left out as other databases use them too.

"cores" is CPU seconds over wall seconds: 1.0 is one core busy for the whole window.
A single-threaded Python client near 1.0 is the limit of what it measures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import asyncpg

from bench import proc

CLIENT_LIMITED_CORES = 0.8  # a one-thread client this busy is (close to) the bottleneck


async def _postgres_backends(dsn: str) -> dict[int, float] | None:
    """CPU seconds of every backend on the bench database but ours; ``None`` when they
    cannot be read here (Postgres on another machine or in another pid namespace)."""
    try:
        connection = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    backends = {}
    for row in rows:
        pid = row["pid"]
        seconds = proc.cpu_seconds([pid]) if proc.command_name(pid) == "postgres" else None
        if seconds is None:
            return None
        backends[pid] = seconds
    return backends


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(slots=True)
class CpuMeter:
    """``async with CpuMeter(pid) as meter: ...`` then ``meter.as_json(per=requests)``."""

    server_pid: int
    postgres_dsn: str | None = None
    client: Literal["self", "children"] = "self"
    _start: dict[str, Any] = field(default_factory=dict)
    _end: dict[str, Any] = field(default_factory=dict)

    async def _sample(self) -> dict[str, Any]:
        postgres = await _postgres_backends(self.postgres_dsn) if self.postgres_dsn else None
        client = proc.own_cpu_seconds() if self.client == "self" else proc.children_cpu_seconds()
        return {
            "wall": time.perf_counter(),
            "server": proc.tree_cpu_seconds(self.server_pid),
            "client": client,
            "postgres": postgres,
        }

    async def __aenter__(self) -> CpuMeter:
        self._start = await self._sample()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._end = await self._sample()

    def seconds(self) -> dict[str, float | None]:
        """CPU seconds of each party over the window, and the window's wall seconds."""
        start, end = self._start, self._end
        postgres = None
        if start["postgres"] is not None and end["postgres"] is not None:
            postgres = sum(
                cpu - start["postgres"].get(pid, 0.0) for pid, cpu in end["postgres"].items()
            )
        server = None
        if start["server"] is not None and end["server"] is not None:
            server = end["server"] - start["server"]
        return {
            "wall": end["wall"] - start["wall"],
            "server": server,
            "client": end["client"] - start["client"],
            "postgres": postgres,
        }

    def as_json(self, *, per: int, unit: str = "request") -> dict[str, Any]:
        spent = self.seconds()
        wall = spent["wall"] or 0.0
        section: dict[str, Any] = {"elapsed_s": _rounded(wall), unit + "s": per}
        for party in ("server", "postgres", "client"):
            seconds = spent[party]
            per_unit = seconds * 1000 / per if seconds is not None and per else None
            section[f"{party}_cpu_ms_per_{unit}"] = _rounded(per_unit)
            section[f"{party}_cores"] = _rounded(
                seconds / wall if seconds is not None and wall else None, 2
            )
        section["client"] = "this Python process" if self.client == "self" else "child process"
        return section

    def client_limited(self) -> bool:
        """Whether the load client was busy enough to be the limit of the measurement."""
        spent = self.seconds()
        wall, client = spent["wall"], spent["client"]
        return bool(wall and client is not None and client / wall >= CLIENT_LIMITED_CORES)


def cpu_section(
    intake: dict[str, Any],
    python_cpu: CpuMeter,
    intake_wrk: dict[str, Any],
    wrk_cpu: CpuMeter | None,
) -> dict[str, Any]:
    """The ``cpu`` section of the report: the CPU of each party over each intake run."""
    python = python_cpu.as_json(per=intake["accepted"])
    python["client_limited"] = python_cpu.client_limited()
    section: dict[str, Any] = {"intake_python": python, "intake_wrk": None}
    if wrk_cpu is not None:
        section["intake_wrk"] = wrk_cpu.as_json(per=intake_wrk["accepted"])
        section["intake_wrk"]["client_limited"] = wrk_cpu.client_limited()
    section["basis"] = (
        "CPU seconds over each intake run divided by the requests accepted in it; cores = "
        "CPU seconds over wall seconds. server: relay247 serve (and its workers); postgres: "
        "the backends on the bench database (null when Postgres is not on this machine); "
        f"client: the load generator. client_limited: the client used >= "
        f"{CLIENT_LIMITED_CORES} of a core, so it, not relay247, may set the intake figure"
    )
    return section
