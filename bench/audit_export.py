"""Audit exports: a trail of ``entries`` sealed entries (1,000,000 in a full run) exported
through the API, and the export checked offline; the floors beneath both.

* The trail: inserted unsealed by one ``INSERT ... SELECT generate_series`` (one entry in
  four concerns Japan, the others France; all Germany), then sealed by the service's own
  sealing code (``seal_batch``, rounds of :data:`SEAL_ROUND`), before the server starts.
* ``export``: ``GET /v1/audit/export`` read to its end into a file, unfiltered (every entry
  whole) and ``country=JP`` (a quarter whole, the rest links: a digest computed per entry):
  ``entries_per_s`` counts the positions of the segment (entries and links).
* ``server_memory``: the server's resident memory before the export and its peak during it
  (VmHWM, reset just before through ``/proc/<pid>/clear_refs``): an export must stream.
* ``healthz_during_export_ms``: ``GET /healthz`` every 20 ms during the export, from another
  connection: how long the export's work keeps the server's event loop from others.
* ``verify``: ``relay247 audit verify FILE --public-key KEY``'s check (in this process,
  :func:`verify_export`) of each file: ``entries_per_s``.
* ``floor``: the same rows read in position order by ``COPY ... TO STDOUT`` with nothing of
  relay247 (the export's floor), and plain SHA-256 over the export file's bytes (the
  verifier's). ``ratios``: relay247 over the floor (1.0 would be the floor; lower is slower).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.audit.chain import CHAIN_COLUMNS
from app.audit.export_verify import verify_export
from app.audit.keys import parse_public_keys
from app.audit.sealer import seal_batch
from app.core.database import Database
from bench.files import _PeakMemory, _status_kib
from bench.progress import progress
from bench.stack import BenchError, Server, serving

SEAL_ROUND = 20_000  # entries per sealing transaction
MIB = 1024 * 1024
_SAMPLE_S = 0.05

_INSERT = """
INSERT INTO audit_entries (actor_role, actor_country, action, object_type, object_id,
                           content_hash, details, countries)
SELECT 'auditor', 'FR', 'request.read', 'request', 'bench-' || g,
       encode(sha256(g::text::bytea), 'hex'), jsonb_build_object('n', g, 'bench', true),
       CASE WHEN g % 4 = 0 THEN ARRAY['DE', 'JP']::char(2)[] ELSE ARRAY['DE', 'FR']::char(2)[] END
FROM generate_series(1, $1) AS g
"""


async def _make_trail(url: str, dsn: str, entries: int) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await connection.execute(_INSERT, entries)
        inserted_s = time.perf_counter() - started
    finally:
        await connection.close()
    progress(f"audit_export: {entries} entries inserted unsealed in {inserted_s:.1f}s; sealing")
    database = Database(url, pool_size=1, max_overflow=0)
    sealed, started = 0, time.perf_counter()
    try:
        while (round_ := await seal_batch(database.engine, limit=SEAL_ROUND)) is not None:
            sealed += round_.count
            if sealed % 200_000 < SEAL_ROUND:
                progress(f"audit_export: {sealed} sealed")
    finally:
        await database.dispose()
    sealed_s = time.perf_counter() - started
    return {
        "inserted": entries,
        "insert_s": round(inserted_s, 1),
        "sealed": sealed,
        "seal_s": round(sealed_s, 1),
        "seal_entries_per_s": round(sealed / sealed_s) if sealed_s else None,
    }


async def _probe(client: httpx.AsyncClient, latencies: list[float]) -> None:
    """GET /healthz every 20 ms during the export: how long the server's event loop keeps
    others waiting while it serialises."""
    while True:
        started = time.perf_counter()
        await client.get("/healthz")
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)


def _percentiles(latencies: list[float]) -> dict[str, Any]:
    if not latencies:
        return {"count": 0}
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "p50": round(ordered[len(ordered) // 2], 1),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max": round(ordered[-1], 1),
    }


async def _sample_rss(pid: int, peak: list[int]) -> None:
    while True:
        rss = _status_kib(pid, "VmRSS")
        if rss is not None and rss > peak[0]:
            peak[0] = rss
        await asyncio.sleep(_SAMPLE_S)


def _mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib is not None else None


async def _export(
    server: Server, token: str, params: dict[str, str], path: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Export into ``path``; the figures and the published keys."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=600.0, trust_env=False) as client:
        before = _status_kib(server.pid, "VmRSS")
        sampled = [before or 0]
        sampler = asyncio.create_task(_sample_rss(server.pid, sampled))
        latencies: list[float] = []
        probe_client = httpx.AsyncClient(base_url=server.url, timeout=60.0, trust_env=False)
        idle: list[float] = []  # the same probe before the export: its connection made
        idle_probe = asyncio.create_task(_probe(probe_client, idle))
        await asyncio.sleep(1.0)
        idle_probe.cancel()
        await asyncio.gather(idle_probe, return_exceptions=True)
        prober = asyncio.create_task(_probe(probe_client, latencies))
        size, tail = 0, b""
        try:
            with _PeakMemory(server.pid) as memory, path.open("wb") as file:
                started = time.perf_counter()
                async with client.stream(
                    "GET", "/v1/audit/export", params=params, headers=headers
                ) as response:
                    if response.status_code != 200:
                        raise BenchError(f"audit_export: export answered {response.status_code}")
                    async for piece in response.aiter_raw():
                        file.write(piece)
                        size += len(piece)
                        tail = (tail + piece)[-400:]
                seconds = time.perf_counter() - started
        finally:
            sampler.cancel()
            prober.cancel()
            await asyncio.gather(prober, return_exceptions=True)
            await probe_client.aclose()
        keys = (await client.get("/v1/audit/public-keys", headers=headers)).json()
    last = tail.decode(errors="replace").splitlines()[-1] if tail else ""
    figures = {
        "params": params,
        "seconds": round(seconds, 2),
        "bytes": size,
        "mb_per_s": round(size / seconds / 1e6, 1),
        "rss_before_mib": _mib(before),
        "rss_peak_mib": _mib(memory.peak_kib),
        "rss_peak_sampled_mib": _mib(sampled[0]),
        "peak_reset_before": memory.reset,
        "healthz_idle_ms": _percentiles(idle[1:]),
        "healthz_during_export_ms": _percentiles(latencies),
        "end_line": last,
    }
    return figures, keys


def _verify(path: Path, keys: dict[str, Any]) -> dict[str, Any]:
    published = parse_public_keys([json.dumps(keys)])
    started = time.perf_counter()
    with path.open(encoding="utf-8") as file:
        report = verify_export(file, published)
    seconds = time.perf_counter() - started
    positions = report.entries + report.links
    return {
        "seconds": round(seconds, 2),
        "entries": report.entries,
        "links": report.links,
        "fault": str(report.fault) if report.fault else None,
        "entries_per_s": round(positions / seconds),
    }


def _sha256_floor(path: Path, positions: int) -> dict[str, Any]:
    digest = hashlib.sha256()
    started = time.perf_counter()
    with path.open("rb") as file:
        while piece := file.read(MIB):
            digest.update(piece)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "entries_per_s": round(positions / seconds)}


async def _copy_floor(dsn: str, path: Path) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await connection.copy_from_query(
            f"SELECT {CHAIN_COLUMNS} FROM audit_entries "  # noqa: S608 (a constant list)
            "WHERE chain_position IS NOT NULL ORDER BY chain_position",
            output=str(path),
        )
        seconds = time.perf_counter() - started
        rows = await connection.fetchval(
            "SELECT count(*) FROM audit_entries WHERE chain_position IS NOT NULL"
        )
    finally:
        await connection.close()
    await asyncio.to_thread(path.unlink)
    return {"seconds": round(seconds, 2), "rows": rows, "entries_per_s": round(rows / seconds)}


async def run_audit_export(
    env: Mapping[str, str], log_dir: Path, seed: dict[str, Any], url: str, dsn: str, *, entries: int
) -> dict[str, Any]:
    """Return the ``audit_export`` section of the report (on a server of its own)."""
    trail = await _make_trail(url, dsn, entries)
    token = seed["auditor"]["token"]
    exports, verified = {}, {}
    async with serving(env, log_dir / "server-audit-export.log", 1) as server:
        for name, params in (("unfiltered", {}), ("country_jp", {"country": "JP"})):
            path = log_dir / f"audit-export-{name}.ndjson"
            figures, keys = await _export(server, token, params, path)
            verified[name] = await asyncio.to_thread(_verify, path, keys)
            positions = verified[name]["entries"] + verified[name]["links"]
            figures["entries_per_s"] = round(positions / figures["seconds"])
            exports[name] = figures
            progress(
                f"audit_export {name}: export {figures['entries_per_s']} entries/s "
                f"({figures['mb_per_s']} MB/s; server RSS {figures['rss_before_mib']} MiB "
                f"before, peak {figures['rss_peak_mib']} MiB; /healthz p99 "
                f"{figures['healthz_during_export_ms'].get('p99')} ms), verify "
                f"{verified[name]['entries_per_s']} entries/s, fault {verified[name]['fault']}"
            )
    whole = log_dir / "audit-export-unfiltered.ndjson"
    positions = verified["unfiltered"]["entries"]
    floor = {
        "sha256_of_export": await asyncio.to_thread(_sha256_floor, whole, positions),
        "copy_out": await _copy_floor(dsn, log_dir / "audit-export-copy.tsv"),
    }
    for name in exports:
        await asyncio.to_thread((log_dir / f"audit-export-{name}.ndjson").unlink)
    unfiltered = exports["unfiltered"]
    section = {
        "trail": trail,
        "export": exports,
        "verify": verified,
        "floor": floor,
        # The figures the brief asks for, of the unfiltered export.
        "export_entries_per_s": unfiltered["entries_per_s"],
        "verify_entries_per_s": verified["unfiltered"]["entries_per_s"],
        "rss_before_mib": unfiltered["rss_before_mib"],
        "rss_peak_mib": unfiltered["rss_peak_mib"],
    }
    return section


def audit_export_ratios(section: dict[str, Any]) -> dict[str, Any]:
    floor = section["floor"]
    return {
        "audit_export_over_copy": round(
            section["export_entries_per_s"] / floor["copy_out"]["entries_per_s"], 3
        ),
        "audit_verify_over_sha256": round(
            section["verify_entries_per_s"] / floor["sha256_of_export"]["entries_per_s"], 4
        ),
    }


# An export must stream: its peak over the server's memory before should stay small.
MEMORY_WARNING_MIB = 100


def audit_export_warnings(section: dict[str, Any]) -> list[str]:
    notes = []
    for name, figures in section["export"].items():
        before, peak = figures["rss_before_mib"], figures["rss_peak_mib"]
        if before is not None and peak is not None and peak - before > MEMORY_WARNING_MIB:
            notes.append(
                f"audit_export {name}: the server's memory peaked {peak - before:.0f} MiB over "
                "its start: is the export held in memory?"
            )
        if not figures["peak_reset_before"]:
            notes.append(f"audit_export {name}: VmHWM could not be reset: the peak may be older")
    for name, figures in section["verify"].items():
        if figures["fault"]:
            notes.append(f"audit_export {name}: the export did not verify: {figures['fault']}")
    return notes
