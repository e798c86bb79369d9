"""The upload's limits: refused before reading, refused while reading with bounded memory,
and an upload cut off halfway leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from app.core.settings import exchange_settings
from tests.clients import http, submit_request
from tests.conftest import RunningServer, free_port
from tests.factories import Party, World
from tests.processes import environment, serving

MiB = 1024 * 1024


def _head(path: str, party: Party, *, length: int | None, expect: bool = False) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    waits = "Expect: 100-continue\r\n" if expect else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: relay247\r\nAuthorization: Bearer {party.token}\r\n"
        f"Content-Type: application/octet-stream\r\n{framing}\r\n{waits}\r\n"
    ).encode()


async def _response_head(reader: asyncio.StreamReader) -> tuple[int, str]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    status = int(head.split(b" ", 2)[1])
    return status, head.decode("latin-1").lower()


async def _rows(db: asyncpg.Connection) -> dict[str, int]:
    return {
        "files": await db.fetchval("SELECT count(*) FROM files"),
        "blob_chunks": await db.fetchval("SELECT count(*) FROM blob_chunks"),
        "audit": await db.fetchval("SELECT count(*) FROM audit_entries WHERE action LIKE 'file.%'"),
    }


async def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    limit = exchange_settings().file_max_bytes
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
    address = urlsplit(server.http)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        # The head only: a server that waited for the body would never answer.
        path = f"/v1/requests/{request['id']}/files?name=big.bin"
        writer.write(_head(path, world.unit("FR"), length=limit + 1))
        await writer.drain()
        status, head = await _response_head(reader)
    finally:
        writer.close()
    assert status == 413
    assert "connection: close" in head
    assert await _rows(db) == {"files": 0, "blob_chunks": 0, "audit": 0}


async def test_a_client_still_sending_after_a_refusal_reads_it_whole_not_a_reset(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """The server answers 413 before reading the body, and then keeps reading (and dropping)
    what the client sends until the client closes its side: closed at once, its kernel would
    answer the bytes still coming with a reset, and the client would see that, not the 413."""
    limit = exchange_settings().file_max_bytes
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
    address = urlsplit(server.http)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        path = f"/v1/requests/{request['id']}/files?name=big.bin"
        writer.write(_head(path, world.unit("FR"), length=limit + 1))
        status, head = await _response_head(reader)
        # The server's answer is out, and its side closing: the body goes on as a client
        # that does not read while it sends would send it.
        piece = os.urandom(64 * 1024)
        for _ in range(32):
            writer.write(piece)
            await writer.drain()
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), 30)  # to the server's end: no reset
    finally:
        writer.close()
    assert status == 413
    assert "connection: close" in head
    assert b"larger than" in rest
    assert await _rows(db) == {"files": 0, "blob_chunks": 0, "audit": 0}


async def test_a_client_that_waits_for_100_continue_learns_a_refusal_before_sending(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
    address = urlsplit(server.http)
    path = f"/v1/requests/{request['id']}/files?name=scan.pdf"

    async def answer_to(party: Party, body: bytes) -> list[int]:
        """The statuses the server sends, sending ``body`` only after a 100 Continue."""
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        try:
            writer.write(_head(path, party, length=len(body), expect=True))
            statuses = [(await _response_head(reader))[0]]
            if statuses == [100]:
                writer.write(body)
                statuses.append((await _response_head(reader))[0])
            return statuses
        finally:
            writer.close()

    assert await answer_to(world.unit("JP"), b"%PDF-1.7\n") == [404]
    assert await answer_to(world.auditor, b"%PDF-1.7\n") == [403]
    assert await answer_to(world.unit("FR"), b"%PDF-1.7\n") == [100, 201]
    assert await db.fetchval("SELECT count(*) FROM files") == 1


def _memory_kib(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmHWM", "VmRSS")}


def _serving_pid(port: int) -> int:
    """The `relay247 serve --port <port>` this test started (a child of this process)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"serve" in argv and str(port).encode() in argv:
                return int(entry.name)
    raise AssertionError(f"no relay247 serve on port {port} among this test's children")


async def _send_chunked(
    writer: asyncio.StreamWriter, total: int, piece: int, stop: asyncio.Event
) -> int:
    """Send ``total`` bytes as chunks generated on the fly; stop when told or cut off."""
    chunk = os.urandom(piece)
    frame = f"{piece:x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with contextlib.suppress(ConnectionError):
        while sent < total and not stop.is_set():
            writer.write(frame)
            await writer.drain()
            sent += piece
            # drain() returns without yielding while the buffer is below its high mark, and
            # the server now reads (and drops) the rest of a refused body instead of
            # resetting: give the reader its turn, as a client that reads as it sends.
            await asyncio.sleep(0)
        if not stop.is_set():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    return sent


@pytest.mark.slow
async def test_a_chunked_upload_is_refused_as_it_passes_the_limit_in_bounded_memory(
    world: World, database_url: str, db: asyncpg.Connection
) -> None:
    port = free_port()
    env = environment(DATABASE_URL=database_url)  # RELAY247_FILE_MAX_BYTES at its default
    limit = exchange_settings().file_max_bytes
    async with serving(port, env) as base, http(base) as client:
        request = await submit_request(client, world.unit("FR"))
        path = f"/v1/requests/{request['id']}/files?name=big.bin"
        pid = _serving_pid(port)
        # Once, so that what every upload loads (the sniffer's tables) is loaded before.
        warm = await client.post(
            path, content=os.urandom(2 * MiB), headers=world.unit("FR").headers
        )
        assert warm.status_code == 201, warm.text
        before = _memory_kib(pid)

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stop = asyncio.Event()
        try:
            writer.write(_head(path, world.unit("FR"), length=None))
            sending = asyncio.create_task(
                _send_chunked(writer, 200 * 1000 * 1000, 256 * 1024, stop)
            )
            status, head = await _response_head(reader)
            stop.set()
            sent = await sending
        finally:
            writer.close()
        after = _memory_kib(pid)
    assert status == 413
    assert "connection: close" in head
    # Refused as it passed the limit, not after the whole 200 MB.
    assert limit < sent < 200 * 1000 * 1000
    grown = after["VmHWM"] - before["VmHWM"]
    assert grown < 20 * 1024, f"peak RSS grew by {grown} KiB: {before} -> {after}"
    assert await _rows(db) == {"files": 1, "blob_chunks": 2, "audit": 1}  # the warm-up's


def _spool_files() -> set[str]:
    """This process's open files in the temporary directory (the in-process server spools
    there; pytest's own captures live there too, hence a comparison with before)."""
    tmp = tempfile.gettempdir()
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(tmp):
                found.add(f"{fd}:{target}")
    return found


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5) -> bool:
    for _ in range(int(seconds / 0.1)):
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


async def test_an_upload_cut_off_halfway_leaves_nothing_behind(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
    spooling_before = _spool_files()
    address = urlsplit(server.http)
    _, writer = await asyncio.open_connection(address.hostname, address.port)
    path = f"/v1/requests/{request['id']}/files?name=half.bin"
    writer.write(_head(path, world.unit("FR"), length=10 * MiB))
    piece = os.urandom(MiB)
    for _ in range(3):
        writer.write(piece)
        await writer.drain()

    async def spooling() -> bool:
        return bool(_spool_files() - spooling_before)

    # The server took the 3 MB into a temporary file: the cut comes mid-upload.
    assert await _eventually(spooling)
    writer.close()
    await writer.wait_closed()

    async def cleaned_up() -> bool:
        return not _spool_files() - spooling_before

    assert await _eventually(cleaned_up), _spool_files() - spooling_before
    await asyncio.sleep(0.5)  # anything late would show now
    assert await _rows(db) == {"files": 0, "blob_chunks": 0, "audit": 0}
