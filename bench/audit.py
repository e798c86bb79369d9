"""The audit trail's hash chain under intake: what it costs, how far behind it runs, and
the floor beneath.

* ``intake``: ``POST /v1/requests`` as in the intake test (bench/submit.py, a fixed number
  in flight, each worker sending its next POST when the last is answered; for a fixed time,
  so a round lasts as long on any machine). Two ``relay247 serve`` run side by side, each
  on a fresh database of its own (the bench database's name + ``_chain`` or ``_nochain``,
  migrated and seeded, dropped at the end): one with its sealer (``with_chain``: the
  default), one with ``RELAY247_AUDIT_SEALER=false`` (``without_chain``: the instance writes
  every audit entry and seals none, as an instance of a deployment with a dedicated sealer
  instance does), whose entries no sealer ever sees. Short rounds go to one then the other,
  in the order with, without, without, with, ... (ABBA), so drift of a noisy machine falls
  on both alike; a with-chain round ends when its entries are sealed, so none of its work
  spills into the next round. A warm-up of POSTs opens the connections of each server first.
  ``chain_overhead`` = 1 - (requests/s with) / (requests/s without), over all the rounds of
  each; ``pairs`` gives it per adjacent pair, whose spread is the noise. Server and Postgres
  CPU per request are measured over each round too (less noisy than throughput).
* ``seal_lag_ms``: over every entry written during the with-chain rounds, ``sealed_at -
  occurred_at`` from the table: from the writing transaction's start (so it counts that
  transaction's own duration) to the database clock at which its round read it. Compared with
  the documented bound: RELAY247_AUDIT_SEAL_INTERVAL plus a round, 1 s with the default.
  The entry's commit lies between ``occurred_at`` and the arrival of the 201 that reported it,
  so ``sealed_after_answer_ms`` (``sealed_at`` minus that arrival, on the same machine's
  clock) is a lower bound of the wait after commit where ``seal_lag_ms`` is an upper one.
  One instance (the intake test runs one).
* ``floor``: on the bench database with nothing of relay247, bare asyncpg inserts of an
  audit-entry-sized JSON row into a scratch table at the intake concurrency, with and without
  a bare sealer (one connection in this process: advisory lock, the unsealed rows in id order
  with the head, SHA-256 of each after the one before, one UPDATE; every 0.1 s when a round
  is not full, as the sealer gathers), in the same ABBA turns: the chain's cost on a bare
  insert, and the bare sealer's lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import statistics
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.audit.sealer import GATHER_SECONDS
from app.core.database.urls import asyncpg_dsn, with_database
from app.core.settings import AuditSettings
from bench.cpu import CpuMeter
from bench.intake import run_intake
from bench.logs import scan_all
from bench.progress import progress
from bench.stack import BenchError, Server, migrate, seed, serving
from bench.stats import summarize_ms
from bench.submit import Submitted, http_client, submit
from bench.workload import Credentials

SEALER_ENV = "RELAY247_AUDIT_SEALER"
FIRST_INDEX = 5_000_000  # request indexes of this section: apart from the other sections'
WARMUP_POSTS = 40
SEAL_TIMEOUT_S = 60.0  # a backlog (or a round's entries) not sealed by then: the bench fails
OVERHEAD_TARGET = 0.10  # chain_overhead above this is a warning


# Pairs of rounds (ABBA), the seconds of POSTs of each round (rounds last as long whatever
# the machine's speed) and the inserts of each floor round.
@dataclass(frozen=True, slots=True)
class _Sizes:
    pairs: int
    seconds: float
    floor_pairs: int
    floor_inserts: int


FULL = _Sizes(pairs=8, seconds=4.0, floor_pairs=4, floor_inserts=2000)
QUICK = _Sizes(pairs=2, seconds=1.5, floor_pairs=1, floor_inserts=1000)
SETTLE_S = 0.3  # a pause before each round: the last round's tail of work is done
# The databases of the two instances: the bench database's name and these.
SUFFIXES = {"with_chain": "_chain", "without_chain": "_nochain"}
AUDIT_LOGS = ("audit-with-chain.log", "audit-without-chain.log")
MODES = ("with_chain", "without_chain")
# The documented bound is one RELAY247_AUDIT_SEAL_INTERVAL plus one round, "1 s with the
# default" (docs/audit-chain.md): with the default 0.5 s interval, the round is given 0.5 s.
ROUND_ALLOWANCE_S = 0.5
_FLOOR_TABLE = "bench_audit_floor"
_FLOOR_LOCK = 0x4245_4E43_4841_5544  # the bare sealer's advisory lock, not the sealer's
_FLOOR_BATCH = 256


def _order(pairs: int) -> list[str]:
    """with, without, without, with, with, without, ...: each mode as often early as late."""
    order: list[str] = []
    for pair in range(pairs):
        order += list(MODES) if pair % 2 == 0 else list(reversed(MODES))
    return order


@dataclass(slots=True)
class _Round:
    mode: str
    accepted: int
    failed: int
    elapsed_s: float
    cpu: dict[str, Any]
    post_latency_ms: dict[str, Any]
    started_at: datetime  # database clock around the measured POSTs
    ended_at: datetime
    answered: dict[str, float]  # request id -> epoch seconds its 201 arrived

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed_s if self.elapsed_s else 0.0


async def _db_now(connection: asyncpg.Connection) -> datetime:
    now: datetime = await connection.fetchval("SELECT clock_timestamp()")
    return now


async def _wait_sealed(connection: asyncpg.Connection, since: datetime | None = None) -> None:
    """Until no entry (written since ``since``, when given) is unsealed."""
    deadline = time.monotonic() + SEAL_TIMEOUT_S
    while True:
        unsealed = await connection.fetchval(
            "SELECT count(*) FROM audit_entries WHERE chain_position IS NULL "
            "AND ($1::timestamptz IS NULL OR occurred_at >= $1)",
            since,
        )
        if not unsealed:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"audit: {unsealed} entries unsealed after {SEAL_TIMEOUT_S:g} s")
        await asyncio.sleep(0.05)


async def _posts(
    client: httpx.AsyncClient,
    credentials: Credentials,
    *,
    first: int,
    seconds: float,
    concurrency: int,
) -> tuple[list[Submitted], float]:
    """POSTs from ``concurrency`` workers, each sending its next as soon as the last is
    answered, for ``seconds``; the POSTs and the elapsed time (to the last answer)."""
    indexes = itertools.count(first)
    results: list[Submitted] = []
    started = time.perf_counter()
    until = started + seconds

    async def worker() -> None:
        while time.perf_counter() < until:
            results.append(await submit(client, credentials, next(indexes), time.perf_counter()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, time.perf_counter() - started


@dataclass(slots=True)
class _Deployment:
    """One instance on a database of its own, with or without its sealer."""

    mode: str
    server: Server
    client: httpx.AsyncClient
    credentials: Credentials
    connection: asyncpg.Connection  # to its database, for the clock and the entries
    dsn: str
    next_index: int = FIRST_INDEX


async def _warm_up(deployment: _Deployment, concurrency: int) -> None:
    await run_intake(
        deployment.client,
        deployment.credentials,
        first=deployment.next_index,
        count=WARMUP_POSTS,
        concurrency=concurrency,
    )
    deployment.next_index += WARMUP_POSTS
    if deployment.mode == "with_chain":
        await _wait_sealed(deployment.connection)


async def _round(deployment: _Deployment, *, seconds: float, concurrency: int) -> _Round:
    await asyncio.sleep(SETTLE_S)
    connection = deployment.connection
    started_at = await _db_now(connection)
    async with CpuMeter(deployment.server.pid, deployment.dsn) as cpu:
        results, elapsed = await _posts(
            deployment.client,
            deployment.credentials,
            first=deployment.next_index,
            seconds=seconds,
            concurrency=concurrency,
        )
    ended_at = await _db_now(connection)
    deployment.next_index += len(results)
    if deployment.mode == "with_chain":
        # Sealed before the next round starts, whichever instance it is on.
        await _wait_sealed(connection, started_at)
    accepted = [r for r in results if r.request_id is not None]
    # perf_counter() of this process to epoch seconds, to compare with the database's clock
    # (the same machine's clock: Postgres runs here, embedded or not, for the CPU figures).
    epoch = time.time() - time.perf_counter()
    return _Round(
        deployment.mode,
        len(accepted),
        len(results) - len(accepted),
        elapsed,
        cpu.as_json(per=max(1, len(accepted))),
        summarize_ms(r.answered - r.sent for r in accepted),
        started_at,
        ended_at,
        {str(r.request_id): r.answered + epoch for r in accepted},
    )


def _database_name(url: str, mode: str) -> str:
    """The bench database's name and the mode's suffix, within Postgres's 63 characters."""
    suffix = SUFFIXES[mode]
    database = make_url(url).database or "relay247_bench"
    return database[: 63 - len(suffix)] + suffix


async def _recreate(url: str, name: str, *, create: bool) -> None:
    """Drop (and create) database ``name`` on the server of ``url``."""
    connection = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        # No bind parameters in DROP/CREATE DATABASE; the name is the bench database's
        # (checked by bench/config.py: [a-z0-9_]) and a constant suffix.
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _environment(env: Mapping[str, str], mode: str) -> tuple[dict[str, str], Credentials]:
    """A database of the mode's own beside the bench database, migrated and seeded, and the
    environment of an instance on it, with its sealer or without."""
    url = env["DATABASE_URL"]
    name = _database_name(url, mode)
    await _recreate(url, name, create=True)
    data_dir = Path(env["RELAY247_DATA_DIR"]) / mode
    data_dir.mkdir(parents=True, exist_ok=True)
    mine = {
        **env,
        "DATABASE_URL": with_database(url, name),
        "RELAY247_DATA_DIR": str(data_dir),
        SEALER_ENV: "true" if mode == "with_chain" else "false",
    }
    await migrate(mine)
    return mine, Credentials.from_seed(await seed(mine))


async def _seal_lag(connection: asyncpg.Connection, rounds: list[_Round]) -> dict[str, Any]:
    """``sealed_at - occurred_at`` of the entries written during the with-chain rounds."""
    lags: list[float] = []
    after_answer: list[float] = []
    per_round: list[int] = []
    gaps: list[float] = []
    entries = 0
    for measured in rounds:
        if measured.mode != "with_chain":
            continue
        rows = await connection.fetch(
            "SELECT object_id, extract(epoch FROM sealed_at - occurred_at)::float8 AS lag, "
            "extract(epoch FROM sealed_at)::float8 AS sealed FROM audit_entries "
            "WHERE occurred_at >= $1 AND occurred_at <= $2",
            measured.started_at,
            measured.ended_at,
        )
        entries += len(rows)
        lags += [float(row["lag"]) for row in rows if row["lag"] is not None]
        # The sealer's rounds over those entries: one sealed_at each.
        sealed_at = sorted(
            Counter(float(r["sealed"]) for r in rows if r["sealed"] is not None).items()
        )
        per_round += [count for _, count in sealed_at]
        gaps += [b[0] - a[0] for a, b in itertools.pairwise(sealed_at)]
        after_answer += [
            float(row["sealed"]) - measured.answered[row["object_id"]]
            for row in rows
            if row["sealed"] is not None and row["object_id"] in measured.answered
        ]
    interval = AuditSettings().audit_seal_interval.total_seconds()
    bound = interval + ROUND_ALLOWANCE_S
    summary = summarize_ms(lags)
    worst = summary["max"]
    posts = sum(r.accepted for r in rounds if r.mode == "with_chain")
    return {
        "entries": entries,
        "unsealed": entries - len(lags),
        "entries_per_post": round(entries / posts, 2) if posts else None,
        "seal_lag_ms": summary,
        # The entry's commit lies between its transaction's start (occurred_at: the lag above,
        # an upper bound) and the 201 that reported it (a lower bound: negative when the
        # entry was sealed before its answer reached the client).
        "sealed_after_answer_ms": summarize_ms(after_answer),
        # How often the sealer's rounds came (from one round's read to the next: the gather,
        # the round itself and its waits for a connection and the event loop) and their size.
        "rounds": len(per_round),
        "round_gap_ms": summarize_ms(gaps),
        "entries_per_round": {
            "p50": statistics.median(per_round) if per_round else None,
            "max": max(per_round, default=None),
        },
        "seal_interval_s": interval,
        "gather_s": GATHER_SECONDS,
        "bound_ms": round(bound * 1000),
        "over_bound": sum(1 for lag in lags if lag > bound),
        "within_bound": worst is not None and worst <= bound * 1000,
        "instances": 1,
    }


def _overhead(with_rate: float, without_rate: float) -> float | None:
    return round(1 - with_rate / without_rate, 4) if without_rate else None


def _mode_rate(rounds: list[_Round], mode: str) -> float:
    mine = [r for r in rounds if r.mode == mode]
    elapsed = sum(r.elapsed_s for r in mine)
    return sum(r.accepted for r in mine) / elapsed if elapsed else 0.0


def _median_cpu(rounds: list[_Round], mode: str, key: str) -> float | None:
    values = [r.cpu[key] for r in rounds if r.mode == mode and r.cpu.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def _cpu_per_request(cpu: dict[str, float | None]) -> float | None:
    """Server plus Postgres CPU milliseconds per request, when both were measured."""
    server, postgres = cpu["server_cpu_ms_per_request"], cpu["postgres_cpu_ms_per_request"]
    return None if server is None or postgres is None else server + postgres


def _intake_section(rounds: list[_Round], concurrency: int, seconds: float) -> dict[str, Any]:
    rates = {mode: _mode_rate(rounds, mode) for mode in MODES}
    pairs = []
    for a, b in zip(rounds[::2], rounds[1::2], strict=True):
        with_round, without_round = (a, b) if a.mode == "with_chain" else (b, a)
        pairs.append(_overhead(with_round.rate, without_round.rate))
    known = sorted(p for p in pairs if p is not None)
    cpu = {
        mode: {
            key: _median_cpu(rounds, mode, key)
            for key in ("server_cpu_ms_per_request", "postgres_cpu_ms_per_request")
        }
        for mode in MODES
    }
    spent = {mode: _cpu_per_request(cpu[mode]) for mode in MODES}
    return {
        "seconds_per_round": seconds,
        "concurrency": concurrency,
        "order": [r.mode for r in rounds],
        "rounds": [
            {
                "mode": r.mode,
                "accepted": r.accepted,
                "failed": r.failed,
                "elapsed_s": round(r.elapsed_s, 3),
                "requests_per_s": round(r.rate, 1),
                "post_latency_p50_ms": r.post_latency_ms["p50"],
                "post_latency_p99_ms": r.post_latency_ms["p99"],
                "server_cpu_ms_per_request": r.cpu.get("server_cpu_ms_per_request"),
                "postgres_cpu_ms_per_request": r.cpu.get("postgres_cpu_ms_per_request"),
                "client_cores": r.cpu.get("client_cores"),
            }
            for r in rounds
        ],
        "with_chain_requests_per_s": round(rates["with_chain"], 1),
        "without_chain_requests_per_s": round(rates["without_chain"], 1),
        "chain_overhead": _overhead(rates["with_chain"], rates["without_chain"]),
        "chain_overhead_target": OVERHEAD_TARGET,
        "pairs": pairs,
        "pairs_median": round(statistics.median(known), 4) if known else None,
        "pairs_spread": round(known[-1] - known[0], 4) if known else None,
        "cpu_ms_per_request": cpu,
        # What the chain costs in CPU (relay247 serve and its Postgres backends) per request,
        # as the share of throughput it would cost a CPU-bound instance: 1 - without / with.
        # Less at the mercy of others' load than requests/s, though not immune to it.
        "chain_overhead_from_cpu": (
            round(1 - spent["without_chain"] / spent["with_chain"], 4)
            if spent["with_chain"] and spent["without_chain"] is not None
            else None
        ),
        "failed": sum(r.failed for r in rounds),
    }


# --- the floor: bare inserts, with and without a bare sealer -------------------------------

_FLOOR_CREATE = f"""
DROP TABLE IF EXISTS {_FLOOR_TABLE};
CREATE TABLE {_FLOOR_TABLE} (
    id bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    details jsonb NOT NULL,
    chain_position bigint UNIQUE,
    chain_hash text,
    sealed_at timestamptz
);
CREATE INDEX {_FLOOR_TABLE}_unsealed ON {_FLOOR_TABLE} (id) WHERE chain_position IS NULL;
"""
_FLOOR_INSERT = f"INSERT INTO {_FLOOR_TABLE} (details) VALUES ($1)"  # noqa: S608 (constant)
_FLOOR_UNSEALED = (
    f"WITH head AS (SELECT chain_position, chain_hash FROM {_FLOOR_TABLE} "  # noqa: S608
    "WHERE chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1) "
    "SELECT clock_timestamp() AS sealing_at, (SELECT chain_position FROM head) AS head_position, "
    "(SELECT chain_hash FROM head) AS head_hash, u.id, u.occurred_at, u.details::text AS body "
    f"FROM (SELECT id, occurred_at, details FROM {_FLOOR_TABLE} WHERE chain_position IS NULL "
    "ORDER BY id LIMIT $1) AS u ORDER BY u.id"
)
_FLOOR_SEAL = (
    f"UPDATE {_FLOOR_TABLE} AS a SET chain_position = s.pos, chain_hash = s.hash, "  # noqa: S608
    "sealed_at = $4 FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS s(id, pos, hash) "
    "WHERE a.id = s.id AND a.chain_position IS NULL"
)


def _floor_entry(index: int) -> str:
    """An entry's details, about the size of a submission's audit entry."""
    return json.dumps(
        {
            "action": "request.submitted",
            "object_type": "request",
            "object_id": f"00000000-0000-4000-8000-{index:012d}",
            "actor": {"country": "FR", "role": "unit", "token": f"{index:032x}"},
            "countries": ["FR", "DE"],
            "details": {"type": "preservation", "priority": "urgent", "target_country": "DE"},
            "remote_addr": "203.0.113.7",
        }
    )


async def _bare_round(connection: asyncpg.Connection) -> int:
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _FLOOR_LOCK)
        rows = await connection.fetch(_FLOOR_UNSEALED, _FLOOR_BATCH)
        if not rows:
            return 0
        position = rows[0]["head_position"] or 0
        head = rows[0]["head_hash"]
        previous = bytes.fromhex(head) if head else bytes(32)
        ids, positions, hashes = [], [], []
        for row in rows:
            position += 1
            previous = hashlib.sha256(previous + row["body"].encode()).digest()
            ids.append(row["id"])
            positions.append(position)
            hashes.append(previous.hex())
        await connection.execute(_FLOOR_SEAL, ids, positions, hashes, rows[0]["sealing_at"])
        return len(rows)


async def _bare_sealer(dsn: str, stop: asyncio.Event) -> None:
    """Seal until stopped: a full round is followed by the next at once, else a gather."""
    connection = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            if await _bare_round(connection) < _FLOOR_BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), GATHER_SECONDS)
        while await _bare_round(connection):  # what the last gather left
            pass
    finally:
        await connection.close()


async def _bare_inserts(
    connections: list[asyncpg.Connection], first: int, count: int
) -> tuple[float, datetime, datetime]:
    indexes = itertools.count(first)

    async def worker(connection: asyncpg.Connection) -> None:
        while (index := next(indexes)) < first + count:
            await connection.execute(_FLOOR_INSERT, _floor_entry(index))

    started_at = await _db_now(connections[0])
    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    return elapsed, started_at, await _db_now(connections[0])


async def _floor(dsn: str, *, pairs: int, inserts: int, concurrency: int) -> dict[str, Any]:
    connections = await asyncio.gather(*(asyncpg.connect(dsn) for _ in range(concurrency)))
    first = 0
    rounds: list[dict[str, Any]] = []
    lags: list[float] = []
    try:
        await connections[0].execute(_FLOOR_CREATE)
        await _bare_inserts(connections, first, WARMUP_POSTS * 5)
        first += WARMUP_POSTS * 5
        for mode in _order(pairs):
            stop = asyncio.Event()
            sealer = None
            if mode == "with_chain":
                sealer = asyncio.create_task(_bare_sealer(dsn, stop))
                await asyncio.sleep(GATHER_SECONDS * 3)  # the backlog of rounds without
            elapsed, started_at, ended_at = await _bare_inserts(connections, first, inserts)
            first += inserts
            if sealer is not None:
                stop.set()
                await sealer
                rows = await connections[0].fetch(
                    "SELECT extract(epoch FROM sealed_at - occurred_at)::float8 AS lag "  # noqa: S608
                    f"FROM {_FLOOR_TABLE} WHERE occurred_at BETWEEN $1 AND $2",
                    started_at,
                    ended_at,
                )
                lags += [float(row["lag"]) for row in rows if row["lag"] is not None]
            rounds.append(
                {
                    "mode": mode,
                    "inserts": inserts,
                    "elapsed_s": round(elapsed, 3),
                    "inserts_per_s": round(inserts / elapsed, 1),
                }
            )
        await connections[0].execute(f"DROP TABLE {_FLOOR_TABLE}")
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    rates = {}
    for mode in MODES:
        mine = [r for r in rounds if r["mode"] == mode]
        rates[mode] = sum(r["inserts"] for r in mine) / sum(r["elapsed_s"] for r in mine)
    section = {
        "concurrency": concurrency,
        "rounds": rounds,
        "with_chain_inserts_per_s": round(rates["with_chain"], 1),
        "without_chain_inserts_per_s": round(rates["without_chain"], 1),
        "chain_overhead": _overhead(rates["with_chain"], rates["without_chain"]),
        "seal_lag_ms": summarize_ms(lags),
    }
    progress(
        f"audit floor: bare inserts {section['without_chain_inserts_per_s']}/s without a "
        f"sealer, {section['with_chain_inserts_per_s']}/s with one (overhead "
        f"{section['chain_overhead']}); bare seal lag p99 {section['seal_lag_ms']['p99']} ms"
    )
    return section


# --- the section -------------------------------------------------------------------------


async def _rounds(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    sizes: _Sizes,
    concurrency: int,
    workers: int,
) -> tuple[list[_Round], dict[str, Any]]:
    """Both instances up; rounds on one then the other in ABBA order; the seal lag."""
    order = _order(sizes.pairs)
    rounds: list[_Round] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            deployments = {}
            for mode, log in zip(MODES, AUDIT_LOGS, strict=True):
                mode_env, credentials = await _environment(env, mode)
                dsn = asyncpg_dsn(mode_env["DATABASE_URL"])
                server = await stack.enter_async_context(serving(mode_env, log_dir / log, workers))
                client = await stack.enter_async_context(
                    http_client(server.url, max(100, concurrency))
                )
                connection = await asyncpg.connect(dsn)
                stack.push_async_callback(connection.close)
                deployments[mode] = _Deployment(mode, server, client, credentials, connection, dsn)
            for deployment in deployments.values():
                await _warm_up(deployment, concurrency)
            for number, mode in enumerate(order):
                measured = await _round(
                    deployments[mode], seconds=sizes.seconds, concurrency=concurrency
                )
                rounds.append(measured)
                progress(
                    f"audit: round {number + 1}/{len(order)} {mode}: "
                    f"{measured.rate:.0f} requests/s, server "
                    f"{measured.cpu.get('server_cpu_ms_per_request')} ms CPU a request"
                )
            lag = await _seal_lag(deployments["with_chain"].connection, rounds)
    finally:
        for mode in MODES:
            await _recreate(
                env["DATABASE_URL"], _database_name(env["DATABASE_URL"], mode), create=False
            )
    return rounds, lag


async def run_audit(
    env: Mapping[str, str],
    log_dir: Path,
    dsn: str,
    *,
    quick: bool,
    concurrency: int,
    workers: int,
) -> dict[str, Any]:
    """Return the ``audit`` section of the report."""
    sizes = QUICK if quick else FULL
    rounds, lag = await _rounds(env, log_dir, sizes=sizes, concurrency=concurrency, workers=workers)
    intake = _intake_section(rounds, concurrency, sizes.seconds)
    progress(
        f"audit: {intake['with_chain_requests_per_s']}/s with the chain, "
        f"{intake['without_chain_requests_per_s']}/s without: overhead "
        f"{intake['chain_overhead']} (pairs median {intake['pairs_median']}, spread "
        f"{intake['pairs_spread']}; from CPU {intake['chain_overhead_from_cpu']}); seal lag "
        f"p50 {lag['seal_lag_ms']['p50']} ms, p99 {lag['seal_lag_ms']['p99']} ms, max "
        f"{lag['seal_lag_ms']['max']} ms (bound {lag['bound_ms']} ms)"
    )
    floor = await _floor(
        dsn, pairs=sizes.floor_pairs, inserts=sizes.floor_inserts, concurrency=concurrency
    )
    return {
        "without_chain": f"{SEALER_ENV}=false: the instance writes every entry, seals none",
        "databases": {
            mode: f"the bench database's name + {suffix}, fresh, dropped after"
            for mode, suffix in SUFFIXES.items()
        },
        "intake": intake,
        "sealing": lag,
        "floor": floor,
        "basis": (
            "two relay247 serve up together, each on a fresh database of its own, one with its "
            "sealer (the default), one without; rounds of POSTs on one then the other in ABBA "
            "order; chain_overhead = 1 - with/without requests/s over all rounds of each; "
            "pairs: the same per adjacent pair; cpu_ms_per_request: medians over the rounds; "
            "seal_lag = sealed_at - occurred_at of the entries written during the with-chain "
            "rounds (transaction start to the round's read of them); floor: bare inserts of "
            "an entry-sized row with and without a bare sealer"
        ),
    }


async def run_audit_only(
    env: Mapping[str, str], log_dir: Path, dsn: str, *, quick: bool, concurrency: int, workers: int
) -> dict[str, Any]:
    """``--only audit``: the section, on servers of its own, with its ratios and warnings."""
    audit = await run_audit(
        env, log_dir, dsn, quick=quick, concurrency=concurrency, workers=workers
    )
    return {
        "audit": audit,
        "server_logs": scan_all([log_dir / name for name in AUDIT_LOGS]),
        "ratios": audit_ratios(audit),
        "warnings": audit_warnings(audit),
    }


def audit_ratios(audit: dict[str, Any]) -> dict[str, Any]:
    intake, floor, sealing = audit["intake"], audit["floor"], audit["sealing"]
    overhead, floor_overhead = intake["chain_overhead"], floor["chain_overhead"]
    lag, floor_lag = sealing["seal_lag_ms"]["p99"], floor["seal_lag_ms"]["p99"]
    return {
        "audit_chain_overhead": overhead,
        "audit_floor_chain_overhead": floor_overhead,
        "audit_chain_overhead_over_floor": (
            # Only when both are costs: a negative overhead is noise, and so is the ratio.
            round(overhead / floor_overhead, 2)
            if overhead is not None and overhead > 0 and floor_overhead and floor_overhead > 0
            else None
        ),
        "audit_intake_with_chain_over_floor_inserts": (
            round(intake["with_chain_requests_per_s"] / floor["with_chain_inserts_per_s"], 4)
            if floor["with_chain_inserts_per_s"]
            else None
        ),
        "audit_seal_lag_p99_over_floor_p99": (
            round(lag / floor_lag, 2) if lag is not None and floor_lag else None
        ),
        "audit_seal_lag_p99_over_bound": (
            round(lag / sealing["bound_ms"], 3) if lag is not None else None
        ),
    }


def audit_warnings(audit: dict[str, Any]) -> list[str]:
    notes = []
    intake, sealing = audit["intake"], audit["sealing"]
    overhead = intake["chain_overhead"]
    if overhead is not None and overhead > OVERHEAD_TARGET:
        notes.append(
            f"audit: the chain cost {overhead:.1%} of intake (target {OVERHEAD_TARGET:.0%}); "
            f"per pair {intake['pairs']}: compare the spread {intake['pairs_spread']} before "
            "believing it"
        )
    if intake["failed"]:
        notes.append(f"audit: {intake['failed']} POSTs failed")
    if sealing["unsealed"]:
        notes.append(f"audit: {sealing['unsealed']} entries of the with-chain rounds unsealed")
    if sealing["over_bound"]:
        notes.append(
            f"audit: {sealing['over_bound']} of {sealing['entries']} entries sealed later than "
            f"the {sealing['bound_ms']} ms bound (max {sealing['seal_lag_ms']['max']} ms)"
        )
    return notes
