"""Matching requests' identifiers against shared indicators (app/matching/).

* ``submit_matching``: ``POST /v1/requests`` as in the intake test (a fixed number in flight,
  for a fixed time per round) on one ``relay247 serve`` over a store of ``--indicators`` (up
  to 1,000,000) indicator values, in ABBA rounds of two bodies alike but for their
  identifiers: five (ip, domain, e-mail, URL, hash; one request in ten names one value the
  store holds, so it matches, and its sender is told) and none. There is no switch to turn
  matching off (a deployment that skipped it would miss matches it could never find later):
  a request without identifiers is the submit without matching, the floor of this one.
  ``overhead`` = 1 - (requests/s with) / (requests/s without); target at most 10%.
* ``match_lookup``: then the store grows to ``--indicators`` (10,000,000 by default) and a
  request's identifiers (5 to 20, about half of them held by the store) are looked up as the
  service does (app.matching.submit.lookup in a transaction of the app's own Database), p50
  and p99 in ms, target p99 at most 5 ms; floor: the same statement as one raw asyncpg
  prepared query.

The store is loaded with COPY into indicator_values (its key and foreign key dropped during
the load and built again after it), over one stix_objects row per ten values in one share.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import httpx

from app.core.database import Database
from app.matching.submit import lookup
from bench.progress import progress
from bench.stack import BenchError, serving
from bench.stats import summarize_ms
from bench.submit import http_client
from bench.workload import Credentials, request_body, route

MATCH_LOGS = ("server-matching.log",)
VALUES_PER_OBJECT = 10
SUBMIT_STORE = 1_000_000  # indicator values stored during submit_matching
LOOKUP_BUDGET_MS = 5.0
OVERHEAD_TARGET = 0.10
LOOKUPS = 2000
WARMUP_LOOKUPS = 100
WARMUP_POSTS = 40
SETTLE_S = 0.3
FIRST_INDEX = 7_000_000  # request indexes of this section: apart from the other sections'
ABSENT = 100_000_000  # values numbered from here on are in no store
COLLECTION = uuid.UUID("5e1a7c0e-2a1f-4d4b-9c57-00000000be4c")
_COPY_CHUNK = 100_000


def value_of(n: int) -> tuple[str, str]:
    """Indicator value ``n``: its kind and its normalized form (app.stix.identifiers)."""
    match n % 5:
        case 0:
            return "ip", f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        case 1:
            return "domain", f"h{n}.example.net"
        case 2:
            return "email", f"u{n}@example.com"
        case 3:
            return "url", f"http://h{n}.example.net/p"
        case _:
            return "hash", f"{n:064x}"


def _identifier(n: int) -> dict[str, str]:
    kind, value = value_of(n)
    return {"kind": kind, "value": value}


async def _lines(first: int, count: int, lowest_row: int) -> AsyncIterator[bytes]:
    for start in range(first, first + count, _COPY_CHUNK):
        chunk = []
        for n in range(start, min(start + _COPY_CHUNK, first + count)):
            kind, value = value_of(n)
            chunk.append(f"{kind}\t{value}\t{lowest_row + (n - first) // VALUES_PER_OBJECT}\n")
        yield "".join(chunk).encode()
        await asyncio.sleep(0)


async def load_store(dsn: str, owner_agency_id: uuid.UUID, *, first: int, count: int) -> float:
    """Store values ``first`` to ``first + count``; the seconds it took (with ANALYZE)."""
    started = time.monotonic()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO data_collections (id, kind, title, owner_agency_id) "
            "VALUES ($1, 'share', 'bench store', $2) ON CONFLICT (id) DO NOTHING",
            COLLECTION,
            owner_agency_id,
        )
        objects = -(-count // VALUES_PER_OBJECT)
        lowest: int = await connection.fetchval(
            """
            WITH added AS (
                INSERT INTO stix_objects (collection_id, origin, stix_id, type, spec_version,
                    version, object, object_hash, handling_code, purge_after)
                SELECT $1, 'submitted',
                       'indicator--00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'),
                       'indicator', '2.1', now(), '{"type": "indicator"}', md5(g::text)
                       || md5((g + 1)::text), 'GREEN', now() + interval '365 days'
                FROM generate_series($2::bigint, $2::bigint + $3 - 1) AS g
                RETURNING row_id
            )
            SELECT min(row_id) FROM added
            """,
            COLLECTION,
            first // VALUES_PER_OBJECT,
            objects,
        )
        await connection.execute(
            "ALTER TABLE indicator_values DROP CONSTRAINT pk_indicator_values, "
            "DROP CONSTRAINT fk_indicator_values_object_row_id_stix_objects"
        )
        await connection.copy_to_table(
            "indicator_values",
            source=_lines(first, count, lowest),
            columns=["kind", "value", "object_row_id"],
        )
        await connection.execute(
            "ALTER TABLE indicator_values "
            "ADD CONSTRAINT pk_indicator_values PRIMARY KEY (kind, value, object_row_id), "
            "ADD CONSTRAINT fk_indicator_values_object_row_id_stix_objects FOREIGN KEY "
            "(object_row_id) REFERENCES stix_objects (row_id) ON DELETE CASCADE"
        )
        await connection.execute("ANALYZE stix_objects, indicator_values")
    finally:
        await connection.close()
    return time.monotonic() - started


# --- submit with matching ------------------------------------------------------------------


def _body(target: str, index: int, stored: int, *, with_identifiers: bool) -> dict[str, Any]:
    body = request_body(target, index)
    if not with_identifiers:
        return body | {"identifiers": []}
    numbers = [ABSENT + index * 5 + j for j in range(5)]
    if index % 10 == 0:  # one in ten names a value the store holds
        numbers[index % 5] = (index * 7919) % stored // 5 * 5 + index % 5
    return body | {"identifiers": [_identifier(n) for n in numbers]}


async def _round(
    client: httpx.AsyncClient,
    credentials: Credentials,
    indexes: itertools.count[int],
    *,
    seconds: float,
    concurrency: int,
    stored: int,
    with_identifiers: bool,
) -> dict[str, Any]:
    accepted, failed, latencies = 0, 0, []
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal accepted, failed
        while time.perf_counter() < end:
            index = next(indexes)
            source, target = route(index, credentials.countries)
            body = _body(target, index, stored, with_identifiers=with_identifiers)
            sent = time.perf_counter()
            response = await client.post(
                "/v1/requests",
                json=body,
                headers={"Authorization": f"Bearer {credentials.units[source]}"},
            )
            if response.status_code == 201:
                accepted += 1
                latencies.append(time.perf_counter() - sent)
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "accepted": accepted,
        "failed": failed,
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(accepted / elapsed, 1),
        "post_latency_ms": summarize_ms(latencies),
    }


async def run_submit_matching(
    env: Mapping[str, str],
    log: Any,
    dsn: str,
    credentials: Credentials,
    *,
    stored: int,
    pairs: int,
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    indexes = itertools.count(FIRST_INDEX)
    rounds: dict[str, list[dict[str, Any]]] = {"with_matching": [], "without_matching": []}
    async with (
        serving(env, log, 1) as server,
        http_client(server.url, max(100, concurrency)) as client,
    ):
        for mode in (True, False):
            await _round(
                client,
                credentials,
                indexes,
                seconds=1.0,
                concurrency=min(concurrency, WARMUP_POSTS),
                stored=stored,
                with_identifiers=mode,
            )
        for pair in range(pairs):
            for with_identifiers in (True, False) if pair % 2 == 0 else (False, True):
                await asyncio.sleep(SETTLE_S)
                result = await _round(
                    client,
                    credentials,
                    indexes,
                    seconds=seconds,
                    concurrency=concurrency,
                    stored=stored,
                    with_identifiers=with_identifiers,
                )
                mode = "with_matching" if with_identifiers else "without_matching"
                rounds[mode].append(result)
                progress(f"submit_matching {mode}: {result['requests_per_s']} requests/s")
    connection = await asyncpg.connect(dsn)
    try:
        found = await connection.fetchval("SELECT count(*) FROM request_matches")
        kept = await connection.fetchval("SELECT count(*) FROM request_identifiers")
    finally:
        await connection.close()

    def rate(mode: str) -> float:
        done = rounds[mode]
        return sum(r["accepted"] for r in done) / sum(r["elapsed_s"] for r in done)

    with_rate, without_rate = rate("with_matching"), rate("without_matching")
    failed = sum(r["failed"] for mode in rounds.values() for r in mode)
    if failed:
        raise BenchError(f"submit_matching: {failed} POSTs failed")
    overhead = 1 - with_rate / without_rate
    return {
        "indicators_stored": stored,
        "concurrency": concurrency,
        "pairs": pairs,
        "round_s": seconds,
        "with_matching_per_s": round(with_rate, 1),
        "without_matching_per_s": round(without_rate, 1),
        "overhead": round(overhead, 4),
        "target_overhead": OVERHEAD_TARGET,
        "within_target": overhead <= OVERHEAD_TARGET,
        "identifiers_kept": kept,
        "matches_found": found,
        "rounds": rounds,
    }


# --- lookup ---------------------------------------------------------------------------------

_FLOOR = """
SELECT iv.kind, iv.value, iv.object_row_id
FROM unnest($1::varchar[], $2::varchar[]) AS given(kind, value)
JOIN indicator_values iv ON iv.kind = given.kind AND iv.value = given.value
JOIN stix_objects o ON o.row_id = iv.object_row_id
JOIN data_collections c ON c.id = o.collection_id
WHERE o.purged_at IS NULL AND c.kind <> 'inbox'
ORDER BY 1, 2, 3
"""


def _samples(stored: int, count: int) -> list[list[dict[str, str]]]:
    """``count`` requests' identifiers: 5 to 20 each, about half held by the store."""
    chosen = random.Random(24)
    requests = []
    for _ in range(count):
        numbers = [
            chosen.randrange(stored) if chosen.random() < 0.5 else ABSENT + chosen.randrange(10**9)
            for _ in range(chosen.randint(5, 20))
        ]
        requests.append([_identifier(n) for n in numbers])
    return requests


async def run_match_lookup(url: str, dsn: str, *, stored: int) -> dict[str, Any]:
    samples = _samples(stored, WARMUP_LOOKUPS + LOOKUPS)
    database = Database(url, pool_size=1, max_overflow=0)
    service, found = [], 0
    try:
        for index, identifiers in enumerate(samples):
            started = time.perf_counter()
            async with database.transaction() as session:
                rows = await lookup(session, identifiers)
            if index >= WARMUP_LOOKUPS:
                service.append(time.perf_counter() - started)
                found += len(rows)
    finally:
        await database.dispose()
    connection = await asyncpg.connect(dsn)
    floor = []
    try:
        statement = await connection.prepare(_FLOOR)
        for index, identifiers in enumerate(samples):
            kinds = [i["kind"] for i in identifiers]
            values = [i["value"] for i in identifiers]
            started = time.perf_counter()
            await statement.fetch(kinds, values)
            if index >= WARMUP_LOOKUPS:
                floor.append(time.perf_counter() - started)
    finally:
        await connection.close()
    service_ms, floor_ms = summarize_ms(service), summarize_ms(floor)
    progress(f"match_lookup: p99 {service_ms['p99']} ms (floor p99 {floor_ms['p99']} ms)")
    return {
        "indicators_stored": stored,
        "lookups": LOOKUPS,
        "identifiers_per_lookup": "5-20, about half stored",
        "objects_found": found,
        "service_ms": service_ms,
        "floor_ms": floor_ms,
        "budget_p99_ms": LOOKUP_BUDGET_MS,
        "within_budget": (service_ms["p99"] or 0) <= LOOKUP_BUDGET_MS,
    }


# --- the section ------------------------------------------------------------------------------


async def run_matching(
    env: Mapping[str, str],
    log_dir: Any,
    url: str,
    dsn: str,
    seeded: Mapping[str, Any],
    *,
    indicators: int,
    quick: bool,
    concurrency: int,
) -> dict[str, Any]:
    """On a migrated and seeded database: submit_matching over a store of up to 1,000,000
    values, then match_lookup over ``indicators``."""
    credentials = Credentials.from_seed(dict(seeded))
    owner = uuid.UUID(seeded["countries"][credentials.countries[0]]["unit"]["agency_id"])
    first = min(indicators, SUBMIT_STORE)
    progress(f"matching: storing {first} indicator values")
    load_s = await load_store(dsn, owner, first=0, count=first)
    submit = await run_submit_matching(
        env,
        log_dir / MATCH_LOGS[0],
        dsn,
        credentials,
        stored=first,
        pairs=1 if quick else 4,
        seconds=1.5 if quick else 4.0,
        concurrency=concurrency,
    )
    if indicators > first:
        progress(f"matching: storing {indicators - first} more indicator values")
        load_s += await load_store(dsn, owner, first=first, count=indicators - first)
    lookup_section = await run_match_lookup(url, dsn, stored=indicators)
    return {
        "load_s": round(load_s, 1),
        "submit_matching": submit,
        "match_lookup": lookup_section,
    }


def matching_ratios(section: Mapping[str, Any]) -> dict[str, Any]:
    lookup_section = section["match_lookup"]
    floor = lookup_section["floor_ms"]["p99"]
    ratios = {"submit_matching_overhead": section["submit_matching"]["overhead"]}
    if floor:
        ratios["match_lookup_p99_over_floor"] = round(
            lookup_section["service_ms"]["p99"] / floor, 2
        )
    return ratios


def matching_warnings(section: Mapping[str, Any]) -> list[str]:
    found = []
    lookup_section, submit = section["match_lookup"], section["submit_matching"]
    if not lookup_section["within_budget"]:
        found.append(
            f"match_lookup: p99 {lookup_section['service_ms']['p99']} ms over the "
            f"{LOOKUP_BUDGET_MS:g} ms budget at {lookup_section['indicators_stored']} indicators"
        )
    if not submit["within_target"]:
        found.append(
            f"submit_matching: submit with matching {submit['overhead']:.1%} below without, "
            f"over the {OVERHEAD_TARGET:.0%} target"
        )
    return found
