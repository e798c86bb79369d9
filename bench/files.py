"""Evidence files: upload and download throughput of one 50 MiB file through the API, the
server's peak memory meanwhile, and the floor beneath them.

* ``upload``: ``POST /v1/requests/{id}/files`` of 50 MiB of random bytes (the largest file
  accepted by default), ``rounds`` times, one after another: from the first byte sent to the
  201, in MB/s (10^6 bytes). The service spools the body to a temporary file while hashing
  it, then copies it into Postgres in 1 MiB rows, with its row, audit entry and event.
* ``download``: ``GET /v1/files/{id}/content`` of that file, read to its end: MB/s.
* ``floor``: on the same database, with asyncpg and nothing of relay247: the same bytes
  COPied in 1 MiB rows into a scratch table and committed (the upload's floor), then read
  back in batches of 8 rows, as the store reads (the download's floor). ``ratios`` is
  relay247 over the floor: 1.0 would be the floor itself, lower is slower.
* ``peak_rss_kib``: the server's peak resident memory (VmHWM) during the uploads and during
  the downloads, each reset just before (``/proc/<pid>/clear_refs``), and its growth over
  the resident memory at the start: a file must never be held whole in memory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.proc import PROC, descendants
from bench.progress import progress
from bench.stack import BenchError, Server
from bench.workload import Credentials, request_body

FILE_BYTES = 50 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024  # the store's chunk
READ_BATCH = 8  # chunks per read transaction, as the store reads
MB = 1_000_000
_FLOOR_TABLE = "bench_files_floor"


def _status_kib(pid: int, field: str) -> int | None:
    total, seen = 0, False
    for member in descendants(pid):
        try:
            lines = (PROC / str(member) / "status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith(f"{field}:"):
                total += int(line.split()[1])
                seen = True
    return total if seen else None


def _reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current VmRSS (Linux: ``5`` to clear_refs); False if refused."""
    try:
        for member in descendants(pid):
            Path(PROC / str(member) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _PeakMemory:
    """VmHWM of the server over a stretch of the bench, from a reset at its start."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> _PeakMemory:
        self.reset = _reset_peak(self.pid)
        self.start_kib = _status_kib(self.pid, "VmRSS")
        return self

    def __exit__(self, *_: object) -> None:
        self.peak_kib = _status_kib(self.pid, "VmHWM")

    def as_json(self) -> dict[str, Any]:
        grown = (
            self.peak_kib - self.start_kib
            if self.peak_kib is not None and self.start_kib is not None
            else None
        )
        return {
            "rss_at_start_kib": self.start_kib,
            "peak_rss_kib": self.peak_kib,
            "peak_over_start_kib": grown,
            "peak_reset_before": self.reset,
        }


def _rate(size: int, seconds: list[float]) -> dict[str, Any]:
    best, total = min(seconds), sum(seconds)
    return {
        "rounds": len(seconds),
        "seconds": [round(s, 3) for s in seconds],
        "mb_per_s": round(size * len(seconds) / total / MB, 1),
        "best_mb_per_s": round(size / best / MB, 1),
    }


async def _request_id(client: httpx.AsyncClient, credentials: Credentials) -> tuple[str, str]:
    """A request to add the files to, and a desk token that may read them."""
    source, target = credentials.countries[0], credentials.countries[1]
    response = await client.post(
        "/v1/requests",
        json=request_body(target, 0),
        headers={"Authorization": f"Bearer {credentials.units[source]}"},
    )
    if response.status_code != 201:
        raise BenchError(f"files: submitting the request failed: {response.status_code}")
    return response.json()["id"], credentials.desks[target][0]


async def _api(
    server: Server, credentials: Credentials, data: bytes, rounds: int
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=120.0, trust_env=False) as client:
        request_id, desk_token = await _request_id(client, credentials)
        unit = {"Authorization": f"Bearer {credentials.units[credentials.countries[0]]}"}
        uploads, file_ids = [], []
        with _PeakMemory(server.pid) as upload_memory:
            for n in range(rounds):
                started = time.perf_counter()
                response = await client.post(
                    f"/v1/requests/{request_id}/files",
                    params={"name": f"bench-{n}.bin"},
                    content=data,
                    headers={**unit, "Content-Type": "application/octet-stream"},
                )
                uploads.append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise BenchError(f"files: upload answered {response.status_code}")
                file_ids.append(response.json()["id"])
        downloads = []
        with _PeakMemory(server.pid) as download_memory:
            for file_id in file_ids:
                received = 0
                started = time.perf_counter()
                async with client.stream(
                    "GET",
                    f"/v1/files/{file_id}/content",
                    headers={"Authorization": f"Bearer {desk_token}"},
                ) as response:
                    async for piece in response.aiter_raw():
                        received += len(piece)
                downloads.append(time.perf_counter() - started)
                if response.status_code != 200 or received != len(data):
                    raise BenchError(f"files: download gave {response.status_code}, {received} B")
    upload = _rate(len(data), uploads) | {"server_memory": upload_memory.as_json()}
    download = _rate(len(data), downloads) | {"server_memory": download_memory.as_json()}
    return {"upload": upload, "download": download}


async def _floor(dsn: str, data: bytes, rounds: int) -> dict[str, Any]:
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {_FLOOR_TABLE} "
            "(key text, seq int, data bytea NOT NULL, PRIMARY KEY (key, seq))"
        )
        writes, reads = [], []
        for n in range(rounds):
            key = f"round-{n}"
            started = time.perf_counter()
            async with connection.transaction():
                await connection.copy_records_to_table(
                    _FLOOR_TABLE,
                    records=[(key, seq, chunk) for seq, chunk in enumerate(chunks)],
                    columns=["key", "seq", "data"],
                )
            writes.append(time.perf_counter() - started)
            received, after = 0, -1
            started = time.perf_counter()
            while True:
                async with connection.transaction():
                    rows = await connection.fetch(
                        f"SELECT seq, data FROM {_FLOOR_TABLE} WHERE key = $1 AND seq > $2 "  # noqa: S608
                        "ORDER BY seq LIMIT $3",
                        key,
                        after,
                        READ_BATCH,
                    )
                if not rows:
                    break
                received += sum(len(row["data"]) for row in rows)
                after = rows[-1]["seq"]
            reads.append(time.perf_counter() - started)
            if received != len(data):
                raise BenchError(f"files floor: read back {received} of {len(data)} bytes")
        await connection.execute(f"DROP TABLE {_FLOOR_TABLE}")
    finally:
        await connection.close()
    return {"copy_in": _rate(len(data), writes), "read_back": _rate(len(data), reads)}


def _ratio(api: dict[str, Any], floor: dict[str, Any]) -> float | None:
    if not api["mb_per_s"] or not floor["mb_per_s"]:
        return None
    return round(api["mb_per_s"] / floor["mb_per_s"], 2)


def files_ratios(files: dict[str, Any]) -> dict[str, Any]:
    return {
        "files_upload_over_floor": _ratio(files["upload"], files["floor"]["copy_in"]),
        "files_download_over_floor": _ratio(files["download"], files["floor"]["read_back"]),
    }


# A 50 MiB file held whole would show as ~50 MiB; spooling in 1 MiB pieces needs a few.
MEMORY_WARNING_KIB = 20 * 1024


def files_warnings(files: dict[str, Any]) -> list[str]:
    notes = []
    for way in ("upload", "download"):
        memory = files[way]["server_memory"]
        grown = memory["peak_over_start_kib"]
        if not memory["peak_reset_before"]:
            notes.append(
                f"files: the server's peak memory could not be reset before the {way}s: "
                "peak_rss_kib may be an older peak"
            )
        if grown is not None and grown > MEMORY_WARNING_KIB:
            notes.append(
                f"files: the server's resident memory peaked {grown} KiB over its start "
                f"during the {way}s: is a file being held whole in memory?"
            )
    return notes


async def run_files(
    server: Server, credentials: Credentials, dsn: str, *, rounds: int
) -> dict[str, Any]:
    """Return the ``files`` section of the report."""
    data = os.urandom(FILE_BYTES)
    api = await _api(server, credentials, data, rounds)
    floor = await _floor(dsn, data, rounds)
    section = {"file_bytes": FILE_BYTES, **api, "floor": floor}
    progress(
        f"files: upload {api['upload']['mb_per_s']} MB/s (floor "
        f"{floor['copy_in']['mb_per_s']}), download {api['download']['mb_per_s']} MB/s "
        f"(floor {floor['read_back']['mb_per_s']}), server peak over start "
        f"{api['upload']['server_memory']['peak_over_start_kib']} KiB up, "
        f"{api['download']['server_memory']['peak_over_start_kib']} KiB down"
    )
    return section
