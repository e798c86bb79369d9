"""Acknowledgement deadlines: how late escalations fire with two instances, how soon a
survivor fires the deadlines of an instance killed with ``kill -9``, and the floor beneath.

* ``lateness``: two ``relay247 serve`` processes on the bench database. The escalation
  policy (every scope) is set to two steps: the on-duty primary, then the global desk, so
  each firing is a real escalation: reassignment to the desk, the next step's deadline, an
  audit entry and a ``request.escalated`` event. ``deadlines`` requests are submitted
  through the API (``POST /v1/requests``: the service routes each to the on-duty primary
  and writes its first ack deadline, an hour away, in the same transaction). Then one
  transaction moves those ack deadlines (and the requests' ``ack_due_at``) to one instant a
  few seconds ahead, and wakes the workers with the NOTIFY the service sends when it writes a
  deadline nearer than their poll: the 1,000 deadlines are due at the same instant, the
  hardest case of "due in the same second". Lateness is ``fired_at - due_at`` from the rows
  (``fired_at`` is the database clock at the start of the firing transaction). Each request
  must have exactly one ``request.escalated`` audit entry for step 1 and one event per
  channel: ``fired_twice`` counts those with more. ``by_instance`` counts the
  ``deadline fired`` lines in each server's log. ``pushed_lateness_ms`` is what a person
  sees: from ``due_at`` to the ``request.escalated`` frame's arrival on a global desk
  dashboard connected to instance B (the first of its two copies: the global desk hears the
  target desk and its own channel), on the same host's clock; it includes the commit of the
  firing's batch and the push.
* ``takeover``: a fresh pair of instances; deadlines due ``TAKEOVER_LEAD_S`` after they are
  written; instance B is killed with SIGKILL ``KILL_BEFORE_S`` before they are due (its
  timer was set on them too). Due-to-fired of those deadlines, all fired by A, and the poll
  interval (the safety net; the timer is what fires them on time).
* ``takeover_mid_firing``: the same, but B is killed ``KILL_AFTER_S`` after they are due,
  while both instances fire them: B dies holding a claim (an open transaction) that
  Postgres rolls back when it sees B's connection close; A fires the rest and B's claim.
* ``floor``: on the same database with nothing of relay247, one asyncpg connection claims
  and updates as many due rows of a scratch table, one per transaction
  (``SELECT ... FOR UPDATE SKIP LOCKED`` then ``UPDATE ... SET fired_at``): the time the
  database alone needs. Its lateness is each row's commit time after the burst started.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection

from app.core.settings import exchange_settings
from app.deadlines.escalation_policy import (
    LEGAL_DEFAULT,
    EscalationPolicyDocument,
    EscalationStep,
    StepRule,
)
from app.deadlines.rows import WAKE_CHANNEL
from app.models.enums import EscalationTarget, Priority
from app.realtime.notifier import PG_CHANNEL
from bench.proc import PROC, descendants, tree_cpu_seconds
from bench.progress import progress
from bench.sockets import open_dashboard
from bench.stack import BenchError, Server, serving
from bench.stats import summarize_ms
from bench.submit import Submitted, http_client, outcomes, submit
from bench.workload import Credentials

# Step timeouts of the bench policy: long, so that only the deadlines the bench moves fire
# while it measures (the escalated requests' next deadline is an hour away too).
STEP_TIMEOUT_S = 3600
LATENESS_LEAD_S = 4.0  # the moved deadlines are due this long after they are moved
TAKEOVER_LEAD_S = 3.0
KILL_BEFORE_S = 1.0
KILL_AFTER_S = 0.2
FIRE_TIMEOUT_S = 120.0  # a deadline not fired this long after it was due counts as missing
PUSH_TIMEOUT_S = 10.0  # how long after the last firing its frames may still be on their way
SUBMIT_CONCURRENCY = 16
_FIRED_LINE = re.compile(r"deadline fired: (\w+) (\w+) step (\d+) of request ([0-9a-f-]{36})")
_FLOOR_TABLE = "bench_deadlines_floor"
_RUNS = ("deadlines", "takeover", "takeover_mid_firing")
DEADLINE_LOGS = tuple(f"{run}-{side}.log" for run in _RUNS for side in ("a", "b"))


def bench_policy() -> EscalationPolicyDocument:
    """Two steps at every priority: the on-duty primary, then the global desk."""
    steps = [
        EscalationStep(target=EscalationTarget.ON_DUTY_PRIMARY, ack_timeout_seconds=STEP_TIMEOUT_S),
        EscalationStep(target=EscalationTarget.GLOBAL_DESK, ack_timeout_seconds=STEP_TIMEOUT_S),
    ]
    return EscalationPolicyDocument(
        ack_steps=[StepRule(priority=priority, steps=steps) for priority in Priority],
        response_times=LEGAL_DEFAULT.response_times,
    )


async def _set_policy(connection: asyncpg.Connection) -> int:
    """Every policy (the network default and any country's own) becomes the bench policy."""
    document = bench_policy().model_dump_json()
    status: str = await connection.execute(
        "UPDATE escalation_policies SET document = $1::jsonb, version = version + 1", document
    )
    return int(status.split()[-1])


async def _set_aside(connection: asyncpg.Connection) -> int:
    """Earlier sections' requests (the full bench) have pending deadlines of their own, which
    would fire in the middle of the measurement: they are cancelled, as an ack would."""
    status: str = await connection.execute(
        "UPDATE request_deadlines SET cancelled_at = now() "
        "WHERE fired_at IS NULL AND cancelled_at IS NULL"
    )
    return int(status.split()[-1])


async def _submit(server: Server, credentials: Credentials, first: int, count: int) -> list[str]:
    """``count`` requests through the API; their ids."""
    indexes = itertools.count(first)
    results: list[Submitted] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while (index := next(indexes)) < first + count:
            results.append(await submit(client, credentials, index, time.perf_counter()))

    async with http_client(server.url, SUBMIT_CONCURRENCY) as client:
        await asyncio.gather(*(worker(client) for _ in range(SUBMIT_CONCURRENCY)))
    ids = [r.request_id for r in results if r.request_id is not None]
    if len(ids) != count:
        raise BenchError(f"deadlines: {count - len(ids)} POSTs failed: {outcomes(results)}")
    return ids


async def _make_due(connection: asyncpg.Connection, ids: list[str], lead_s: float) -> float:
    """Move the requests' first ack deadline to one instant ``lead_s`` from now and wake the
    workers as the service does after writing a near deadline; the instant, as epoch."""
    async with connection.transaction():
        due: float = await connection.fetchval(
            "SELECT extract(epoch FROM now() + make_interval(secs => $1))::float8", lead_s
        )
        moved = await connection.fetchval(
            "WITH moved AS (UPDATE request_deadlines SET due_at = to_timestamp($2) "
            "WHERE request_id = ANY($1::uuid[]) AND kind = 'ack' AND step = 0 "
            "AND fired_at IS NULL AND cancelled_at IS NULL RETURNING request_id) "
            "SELECT count(*) FROM moved",
            ids,
            due,
        )
        await connection.execute(
            "UPDATE requests SET ack_due_at = to_timestamp($2) WHERE id = ANY($1::uuid[])",
            ids,
            due,
        )
    if moved != len(ids):
        raise BenchError(f"deadlines: {len(ids)} requests but {moved} pending ack deadlines")
    await connection.execute("SELECT pg_notify($1, $2)", PG_CHANNEL, WAKE_CHANNEL)
    return due


async def _seconds_to(connection: asyncpg.Connection, epoch: float) -> float:
    remaining: float = await connection.fetchval(
        "SELECT $1 - extract(epoch FROM clock_timestamp())::float8", epoch
    )
    return remaining


async def _wait_fired(connection: asyncpg.Connection, ids: list[str], due: float) -> bool:
    """Wait until every deadline of ``ids`` is fired (True) or FIRE_TIMEOUT_S past due."""
    while True:
        pending = await connection.fetchval(
            "SELECT count(*) FROM request_deadlines WHERE request_id = ANY($1::uuid[]) "
            "AND kind = 'ack' AND step = 0 AND fired_at IS NULL AND cancelled_at IS NULL",
            ids,
        )
        if pending == 0:
            return True
        if await _seconds_to(connection, due) < -FIRE_TIMEOUT_S:
            return False
        await asyncio.sleep(0.2)


async def _outcome(connection: asyncpg.Connection, ids: list[str]) -> dict[str, Any]:
    """Lateness of the fired deadlines, and whether anything fired or was written twice."""
    rows = await connection.fetch(
        "SELECT extract(epoch FROM fired_at - due_at)::float8 AS late, "
        "fired_at IS NOT NULL AS fired, cancelled_at IS NOT NULL AS cancelled "
        "FROM request_deadlines "
        "WHERE request_id = ANY($1::uuid[]) AND kind = 'ack' AND step = 0",
        ids,
    )
    lateness = [float(row["late"]) for row in rows if row["fired"]]
    text_ids = [str(i) for i in ids]
    audits = await connection.fetch(
        "SELECT object_id, details->>'to_step' AS step, count(*) AS n FROM audit_entries "
        "WHERE action = 'request.escalated' AND object_id = ANY($1::text[]) GROUP BY 1, 2",
        text_ids,
    )
    events = await connection.fetch(
        "SELECT request_id, channel, count(*) AS n FROM events "
        "WHERE type = 'request.escalated' AND request_id = ANY($1::uuid[]) GROUP BY 1, 2",
        ids,
    )
    escalated = await connection.fetchval(
        "SELECT count(*) FROM requests WHERE id = ANY($1::uuid[]) AND escalation_step = 1 "
        "AND assignment = 'escalated' AND assigned_to IS NULL",
        ids,
    )
    elapsed = max(lateness) if lateness else None
    return {
        "deadlines": len(ids),
        "fired": len(lateness),
        "cancelled": sum(1 for row in rows if row["cancelled"]),
        "not_fired": len(ids) - len(lateness),
        "lateness_ms": summarize_ms(lateness),
        # The timer's part of the lateness; the rest is the time to fire those before.
        "first_fired_ms": round(min(lateness) * 1000, 3) if lateness else None,
        "fired_per_s": round(len(lateness) / elapsed, 1) if elapsed else None,
        "requests_escalated_to_global_desk": escalated,
        "escalation_audit_entries": sum(row["n"] for row in audits),
        "fired_twice": {
            "audit": sum(1 for row in audits if row["n"] > 1),
            "events": sum(1 for row in events if row["n"] > 1),
        },
    }


async def _watch_escalations(
    dashboard: ClientConnection, ids: set[str], seen: dict[str, float]
) -> None:
    """Note when each request's ``request.escalated`` frame first arrives (epoch seconds)."""
    async for raw in dashboard:
        arrived = time.time()
        frame = json.loads(raw)
        if frame.get("type") != "event" or frame.get("event") != "request.escalated":
            continue
        request_id = frame["data"]["request_id"]
        if request_id in ids:
            seen.setdefault(request_id, arrived)
            if len(seen) == len(ids):
                return


def _fired_by(logs: Mapping[str, Path], ids: list[str]) -> dict[str, int]:
    """Deadlines of ``ids`` each instance logged as fired (``deadline fired: ...``)."""
    wanted = set(ids)
    counts: Counter[str] = Counter()
    for name, path in logs.items():
        counts[name] = 0
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for match in _FIRED_LINE.finditer(text):
            if match.group(4) in wanted and match.group(3) == "0":
                counts[name] += 1
    return dict(counts)


def _kill(server: Server) -> None:
    """SIGKILL the server and every process below it (its workers): no cleanup at all."""
    for pid in reversed(descendants(server.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def _gone(server: Server) -> None:
    """Wait until the killed server has been reaped (its sockets closed with it)."""
    for _ in range(100):
        if not (PROC / str(server.pid)).exists():
            return
        await asyncio.sleep(0.05)


async def _lateness(
    env: Mapping[str, str],
    log_dir: Path,
    credentials: Credentials,
    connection: asyncpg.Connection,
    *,
    count: int,
    workers: int,
) -> dict[str, Any]:
    logs = {"A": log_dir / "deadlines-a.log", "B": log_dir / "deadlines-b.log"}
    seen: dict[str, float] = {}
    async with serving(env, logs["A"], workers) as a, serving(env, logs["B"], workers) as b:
        ids = await _submit(a, credentials, 0, count)
        dashboard = await open_dashboard(b.ws_url, credentials.global_desk)
        watching = asyncio.create_task(_watch_escalations(dashboard, set(ids), seen))
        due = await _make_due(connection, ids, LATENESS_LEAD_S)
        progress(f"deadlines: {count} ack deadlines due in {LATENESS_LEAD_S:g} s, two instances")
        await asyncio.sleep(max(0.0, await _seconds_to(connection, due)))
        cpu_before = [tree_cpu_seconds(a.pid), tree_cpu_seconds(b.pid)]
        started = time.perf_counter()
        complete = await _wait_fired(connection, ids, due)
        # Whether the instances were short of CPU while they fired (2 cores: 2.0 is all).
        cpu_after = [tree_cpu_seconds(a.pid), tree_cpu_seconds(b.pid)]
        elapsed = time.perf_counter() - started
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watching, PUSH_TIMEOUT_S)
        watching.cancel()
        await dashboard.close()
        await asyncio.sleep(0.5)  # the last firing's log line
    section = await _outcome(connection, ids)
    section["pushed"] = len(seen)
    section["pushed_lateness_ms"] = summarize_ms([at - due for at in seen.values()])
    by_instance = _fired_by(logs, ids)
    busy = [
        round((after - before) / elapsed, 2) if after is not None and before is not None else None
        for before, after in zip(cpu_before, cpu_after, strict=True)
    ]
    section |= {
        "complete": complete,
        "lead_s": LATENESS_LEAD_S,
        "by_instance": by_instance,
        "server_cores_while_firing": {"A": busy[0], "B": busy[1]},
        "cpu_count": os.cpu_count(),
    }
    late = section["lateness_ms"]
    progress(
        f"deadlines: {section['fired']}/{count} fired, lateness p50 {late['p50']} ms, "
        f"p99 {late['p99']} ms, max {late['max']} ms; seen on a dashboard p50 "
        f"{section['pushed_lateness_ms']['p50']} ms, p99 {section['pushed_lateness_ms']['p99']} "
        f"ms; by instance {section['by_instance']}; fired twice {section['fired_twice']}"
    )
    return section


async def _takeover(
    env: Mapping[str, str],
    log_dir: Path,
    credentials: Credentials,
    connection: asyncpg.Connection,
    *,
    count: int,
    first: int,
    workers: int,
    kill_offset_s: float,
    name: str,
) -> dict[str, Any]:
    """B is killed ``kill_offset_s`` after the deadlines are due (negative: before)."""
    logs = {"A": log_dir / f"{name}-a.log", "B": log_dir / f"{name}-b.log"}
    async with serving(env, logs["A"], workers) as a, serving(env, logs["B"], workers) as b:
        ids = await _submit(a, credentials, first, count)
        due = await _make_due(connection, ids, TAKEOVER_LEAD_S)
        await asyncio.sleep(max(0.0, await _seconds_to(connection, due) + kill_offset_s))
        killed_at = -await _seconds_to(connection, due)
        _kill(b)
        await _gone(b)
        progress(f"{name}: instance B killed with SIGKILL {killed_at:+.3f} s from due")
        complete = await _wait_fired(connection, ids, due)
        await asyncio.sleep(0.5)
    section = await _outcome(connection, ids)
    by_instance = _fired_by(logs, ids)
    late = section.pop("lateness_ms")
    section |= {
        "complete": complete,
        "lead_s": TAKEOVER_LEAD_S,
        "killed_s_from_due": round(killed_at, 3),
        "due_to_fired_ms": {q: late[q] for q in ("count", "p50", "p99", "max")},
        "by_instance": by_instance,
        "fired_by_killed_instance_before_it_died": by_instance.get("B", 0),
    }
    progress(
        f"{name}: {section['fired']}/{count} fired, due to fired p50 {late['p50']} ms, "
        f"max {late['max']} ms; by instance {by_instance}; fired twice {section['fired_twice']}"
    )
    return section


async def _floor(connection: asyncpg.Connection, count: int) -> dict[str, Any]:
    """One connection claims and updates ``count`` due rows, one per transaction."""
    await connection.execute(
        f"CREATE TABLE IF NOT EXISTS {_FLOOR_TABLE} (id bigint GENERATED ALWAYS AS IDENTITY "
        "PRIMARY KEY, due_at timestamptz NOT NULL, fired_at timestamptz)"
    )
    await connection.execute(
        f"CREATE INDEX IF NOT EXISTS {_FLOOR_TABLE}_pending ON {_FLOOR_TABLE} (due_at) "
        "WHERE fired_at IS NULL"
    )
    await connection.execute(
        f"INSERT INTO {_FLOOR_TABLE} (due_at) SELECT now() FROM generate_series(1, $1)",  # noqa: S608
        count,
    )
    await connection.execute(f"ANALYZE {_FLOOR_TABLE}")
    claim = await connection.prepare(
        f"SELECT id FROM {_FLOOR_TABLE} WHERE fired_at IS NULL AND due_at <= now() "  # noqa: S608
        "ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    fire = await connection.prepare(
        f"UPDATE {_FLOOR_TABLE} SET fired_at = now() WHERE id = $1"  # noqa: S608
    )
    done: list[float] = []
    started = time.perf_counter()
    while True:
        async with connection.transaction():
            found = await claim.fetchval()
            if found is None:
                break
            await fire.fetch(found)
        done.append(time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    await connection.execute(f"DROP TABLE {_FLOOR_TABLE}")
    if len(done) != count:
        raise BenchError(f"deadlines floor: fired {len(done)} of {count} rows")
    return {
        "rows": count,
        "connections": 1,
        "elapsed_s": round(elapsed, 3),
        "fired_per_s": round(count / elapsed, 1),
        "lateness_ms": summarize_ms(done),
    }


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if not numerator or not denominator:
        return None
    return round(float(numerator) / float(denominator), 2)


def deadlines_ratios(section: dict[str, Any]) -> dict[str, Any]:
    late, floor = section["lateness"], section["floor"]
    return {
        "deadline_lateness_p50_over_floor_p50": _ratio(
            late["lateness_ms"]["p50"], floor["lateness_ms"]["p50"]
        ),
        "deadline_lateness_p99_over_floor_p99": _ratio(
            late["lateness_ms"]["p99"], floor["lateness_ms"]["p99"]
        ),
        "deadline_fired_per_s_over_floor": _ratio(late["fired_per_s"], floor["fired_per_s"]),
    }


LATENESS_TARGET_MS = 1000  # issue 8: fired within 1 s of the deadline at p99


def deadlines_warnings(section: dict[str, Any]) -> list[str]:
    notes = []
    for name in ("lateness", "takeover", "takeover_mid_firing"):
        part = section.get(name)
        if part is None:
            continue
        twice = part["fired_twice"]
        if twice["audit"] or twice["events"]:
            notes.append(f"deadlines {name}: fired twice: {twice}")
        if part["not_fired"]:
            notes.append(
                f"deadlines {name}: {part['not_fired']} of {part['deadlines']} never fired "
                f"(waited {FIRE_TIMEOUT_S:g} s past due)"
            )
        if part["escalation_audit_entries"] != part["fired"]:
            notes.append(
                f"deadlines {name}: {part['fired']} fired but "
                f"{part['escalation_audit_entries']} escalation audit entries"
            )
    lateness = section["lateness"]
    if lateness["pushed"] != lateness["fired"]:
        notes.append(
            f"deadlines: {lateness['fired']} escalations fired but the global desk's dashboard "
            f"saw {lateness['pushed']} within {PUSH_TIMEOUT_S:g} s"
        )
    p99 = lateness["lateness_ms"]["p99"]
    if p99 is not None and p99 > LATENESS_TARGET_MS:
        notes.append(
            f"deadlines: lateness p99 {p99} ms over the {LATENESS_TARGET_MS} ms target with "
            f"{section['lateness']['deadlines']} due at one instant: firing throughput is "
            f"{section['lateness']['fired_per_s']}/s (floor {section['floor']['fired_per_s']}/s "
            "on one connection)"
        )
    return notes


async def run_deadlines(
    env: Mapping[str, str],
    log_dir: Path,
    credentials: Credentials,
    dsn: str,
    *,
    count: int,
    takeover_count: int,
    workers: int,
) -> dict[str, Any]:
    """Return the ``deadlines`` section of the report."""
    connection = await asyncpg.connect(dsn)
    try:
        policies = await _set_policy(connection)
        set_aside = await _set_aside(connection)
        lateness = await _lateness(
            env, log_dir, credentials, connection, count=count, workers=workers
        )
        takeover = await _takeover(
            env,
            log_dir,
            credentials,
            connection,
            count=takeover_count,
            first=count,
            workers=workers,
            kill_offset_s=-KILL_BEFORE_S,
            name="takeover",
        )
        mid_firing = await _takeover(
            env,
            log_dir,
            credentials,
            connection,
            count=takeover_count,
            first=count + takeover_count,
            workers=workers,
            kill_offset_s=KILL_AFTER_S,
            name="takeover_mid_firing",
        )
        floor = await _floor(connection, count)
    finally:
        await connection.close()
    progress(
        f"deadlines floor: {count} rows claimed and fired in {floor['elapsed_s']} s "
        f"({floor['fired_per_s']}/s) on one connection"
    )
    return {
        "policy": {
            "steps": ["on_duty_primary", "global_desk"],
            "policies_replaced": policies,
            "earlier_deadlines_set_aside": set_aside,
        },
        "poll_interval_s": exchange_settings().deadline_poll_interval.total_seconds(),
        "deadlines_written": "through the API (POST /v1/requests), then moved to one instant",
        "lateness": lateness,
        "takeover": takeover,
        "takeover_mid_firing": mid_firing,
        "floor": floor,
    }
