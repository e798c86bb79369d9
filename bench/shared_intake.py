"""Bulk intake of shared indicators through TAXII 2.1 (issue 24): ``--shared-objects``
indicators (ipv4, domain and url patterns, TLP:GREEN; 1,000,000 by default) in bundles of
10,000, POSTed over HTTP to a real ``relay247 serve`` as a member unit's share (so
indicator_values are written too), one bundle at a time. Objects/s, against a floor measured
in the same run: a bare asyncpg COPY of the same rows (stix_objects, then indicator_values)
into the same tables. The server's peak RSS (VmHWM of /proc/<pid>/status) shows memory is
bounded by the bundle, not by the total.

Then the same count again with two bundles in flight (``taxii_two_in_flight``: as a gateway
fed by two partners' feeds at once), timed by the wall clock from the first POST to the last
answer: one bundle's parsing and validation (the server's Python) then overlaps another's
COPY (Postgres), where one bundle at a time leaves each waiting for the other.

``python -m bench --only shared_intake [--shared-objects N]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.cpu import CpuMeter
from bench.progress import progress
from bench.stack import BenchDatabase, migrate, seed, serving
from bench.workload import Credentials

BUNDLE = 10_000
TAXII = "application/taxii+json;version=2.1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


def _pattern(index: int) -> str:
    match index % 3:
        case 0:
            return f"[ipv4-addr:value = '10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}']"
        case 1:
            return f"[domain-name:value = 'host{index}.example.net']"
        case _:
            return f"[url:value = 'https://host{index}.example.org/login']"


def indicator(run: str, index: int) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{run}/{index}')}",
        "created": "2025-03-14T10:40:00.000Z",
        "modified": "2025-03-14T10:40:00.000Z",
        "name": "Phishing infrastructure",
        "indicator_types": ["malicious-activity"],
        "pattern": _pattern(index),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": "2025-03-14T10:40:00Z",
        "object_marking_refs": [GREEN],
    }


def _peak_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_per_object(meter: CpuMeter, objects: int) -> dict[str, float | None]:
    """CPU microseconds per object of the server and of Postgres' backends: what each costs
    whatever else the machine runs (the objects/s figure is the wall clock's)."""
    spent = meter.seconds()
    per_object: dict[str, float | None] = {}
    for party in ("server", "postgres"):
        seconds = spent[party]
        per_object[party] = round(seconds * 1e6 / objects, 1) if seconds and objects else None
    return per_object


async def _through_taxii(
    url: str, pid: int, dsn: str, token: str, collection: str, run: str, count: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": TAXII, "Content-Type": TAXII}
    path = f"/taxii2/api/collections/{collection}/objects/"
    bundles, stored, elapsed = 0, 0, 0.0
    async with (
        CpuMeter(pid, dsn) as meter,
        httpx.AsyncClient(base_url=url, timeout=300, trust_env=False) as client,
    ):
        for first in range(0, count, BUNDLE):
            body = json.dumps(
                {"objects": [indicator(run, i) for i in range(first, min(first + BUNDLE, count))]}
            ).encode()
            started = time.perf_counter()
            response = await client.post(path, content=body, headers=headers)
            elapsed += time.perf_counter() - started
            if response.status_code != 202 or response.json()["failure_count"]:
                raise RuntimeError(f"bundle refused: {response.status_code} {response.text[:500]}")
            stored += response.json()["success_count"]
            bundles += 1
            if bundles % 10 == 0:
                progress(f"shared_intake: {stored} objects, {stored / elapsed:.0f}/s")
    return {
        "objects": stored,
        "bundles": bundles,
        "bundle_size": BUNDLE,
        "elapsed_s": round(elapsed, 3),
        "objects_per_s": round(stored / elapsed, 1),
        "cpu_us_per_object": _cpu_per_object(meter, stored),
        "server_peak_rss_kib": _peak_rss_kib(pid),
    }


async def _two_in_flight(
    url: str, pid: int, token: str, collection: str, run: str, count: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": TAXII, "Content-Type": TAXII}
    path = f"/taxii2/api/collections/{collection}/objects/"
    firsts = iter(range(0, count, BUNDLE))
    stored = 0

    async def feed(client: httpx.AsyncClient) -> None:
        nonlocal stored
        for first in firsts:  # shared: each feed takes the next bundle
            body = json.dumps(
                {"objects": [indicator(run, i) for i in range(first, min(first + BUNDLE, count))]}
            ).encode()
            response = await client.post(path, content=body, headers=headers)
            if response.status_code != 202 or response.json()["failure_count"]:
                raise RuntimeError(f"bundle refused: {response.status_code} {response.text[:500]}")
            stored += response.json()["success_count"]

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=300, trust_env=False) as client:
        await asyncio.gather(feed(client), feed(client))
    elapsed = time.perf_counter() - started
    return {
        "objects": stored,
        "in_flight": 2,
        "elapsed_s": round(elapsed, 3),
        "objects_per_s": round(stored / elapsed, 1),
        "timed": "wall clock, first POST to last answer, bodies built meanwhile",
        "server_peak_rss_kib": _peak_rss_kib(pid),
    }


async def _floor(dsn: str, collection: str, run: str, count: int) -> dict[str, Any]:
    """The same rows, written with COPY and nothing else: no HTTP, no JSON parsing, no
    validation, no hashing of the request (rows made before the clock starts)."""
    connection = await asyncpg.connect(dsn)
    try:
        submission = uuid.uuid4()
        agency = await connection.fetchval(
            "SELECT owner_agency_id FROM data_collections WHERE id = $1", uuid.UUID(collection)
        )
        principal = await connection.fetchval(
            "SELECT id FROM principals WHERE agency_id = $1 LIMIT 1", agency
        )
        await connection.execute(
            "INSERT INTO data_submissions (id, collection_id, agency_id, principal_id, format, "
            "status, total_count, success_count, failure_count) "
            "VALUES ($1, $2, $3, $4, 'stix', 'complete', $5, $5, 0)",
            submission,
            uuid.UUID(collection),
            agency,
            principal,
            count,
        )
        now = datetime.now(UTC)
        version = datetime(2025, 3, 14, 10, 40, tzinfo=UTC)
        objects = [indicator(f"{run}-floor", i) for i in range(count)]
        rows = [
            (
                uuid.UUID(collection),
                submission,
                "submitted",
                obj["id"],
                "indicator",
                "2.1",
                version,
                now,
                json.dumps(obj),
                hashlib.sha256(json.dumps(obj).encode()).hexdigest(),
                "GREEN",
                None,
                now + timedelta(days=365),
            )
            for obj in objects
        ]
        meter = CpuMeter(os.getpid(), dsn)
        await meter.__aenter__()
        started = time.perf_counter()
        for first in range(0, count, BUNDLE):
            chunk = rows[first : first + BUNDLE]
            async with connection.transaction():
                # Row ids drawn first, as the intake does, so the values name their rows
                # without reading them back.
                row_ids = await connection.fetchval(
                    "SELECT array(SELECT nextval(pg_get_serial_sequence('stix_objects', "
                    "'row_id')) FROM generate_series(1, $1))",
                    len(chunk),
                )
                await connection.copy_records_to_table(
                    "stix_objects",
                    records=[(row_id, *row) for row_id, row in zip(row_ids, chunk, strict=True)],
                    columns=(
                        "row_id",
                        "collection_id",
                        "submission_id",
                        "origin",
                        "stix_id",
                        "type",
                        "spec_version",
                        "version",
                        "date_added",
                        "object",
                        "object_hash",
                        "handling_code",
                        "triage",
                        "purge_after",
                    ),
                )
                values = [
                    (("ip", "domain", "url")[(first + n) % 3], f"v{first + n}", row_id)
                    for n, row_id in enumerate(row_ids)
                ]
                await connection.copy_records_to_table(
                    "indicator_values", records=values, columns=("kind", "value", "object_row_id")
                )
        elapsed = time.perf_counter() - started
        await meter.__aexit__(None, None, None)
    finally:
        await connection.close()
    return {
        "objects": count,
        "elapsed_s": round(elapsed, 3),
        "objects_per_s": round(count / elapsed, 1),
        "postgres_cpu_us_per_object": _cpu_per_object(meter, count)["postgres"],
        "how": "asyncpg COPY of the same rows into stix_objects and indicator_values, "
        f"one transaction per {BUNDLE}",
    }


async def run_shared_intake(
    database: BenchDatabase, env: dict[str, str], log_dir: Path, *, objects: int, workers: int
) -> dict[str, Any]:
    """Return the ``shared_intake`` section of the report."""
    await migrate(env)
    credentials = Credentials.from_seed(await seed(env))
    country = credentials.countries[0]
    run = uuid.uuid4().hex[:8]
    env = {**env, "RELAY247_TAXII_MAX_CONTENT_LENGTH": str(64 * 1024 * 1024)}
    async with serving(env, log_dir / "server-shared-intake.log", workers) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as client:
            made = await client.post(
                "/v1/shared-data/collections",
                json={"title": "bench share", "audience": None},
                headers={"Authorization": f"Bearer {credentials.units[country]}"},
            )
            made.raise_for_status()
            collection = made.json()["id"]
        progress(f"shared_intake: {objects} indicators in bundles of {BUNDLE} through TAXII")
        taxii = await _through_taxii(
            server.url,
            server.pid,
            database.dsn,
            credentials.units[country],
            collection,
            run,
            objects,
        )
        progress(f"shared_intake: {taxii['objects_per_s']:.0f} objects/s; two in flight next")
        two = await _two_in_flight(
            server.url, server.pid, credentials.units[country], collection, f"{run}-2", objects
        )
    progress(f"shared_intake: {two['objects_per_s']:.0f} objects/s two in flight; floor next")
    floor = await _floor(database.dsn, collection, run, objects)
    return {
        "taxii": taxii,
        "taxii_two_in_flight": two,
        "floor": floor,
        "ratio_to_floor": round(taxii["objects_per_s"] / floor["objects_per_s"], 3),
        "two_in_flight_ratio_to_floor": round(two["objects_per_s"] / floor["objects_per_s"], 3),
        "target_objects_per_s": 20_000,
    }
