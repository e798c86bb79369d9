"""A server's own stall is not charged to its clients: a request sent while the server was
stopped, starved of CPU or blocked is answered when it runs again, although the bound on
the client's silence (RELAY247_KEEP_ALIVE_TIMEOUT between requests, RELAY247_HEADER_TIMEOUT
for a head) fell due meanwhile (app/core/serving.py, StallClock). That a connection which
truly sends nothing is still closed: test_client_departures.

Each test stalls the server for longer than the bound: the stall is the condition under test,
a sleep makes it. What is asserted is an answer, never a time."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from app.core.settings import ApiSettings
from app.main import create_app
from tests.conftest import free_port, serving_app
from tests.processes import environment, serving
from tests.waiting import eventually

BOUND = 0.5  # seconds: the keep-alive and head timeouts of these tests' servers
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# A head cut where the server has begun a request: its head's bound runs, not the keep-alive.
BEGUN = HEAD.index(b"\r\n") + 2


async def answer(reader: asyncio.StreamReader) -> bytes:
    """The status line of the next response, its body read and dropped."""
    async with asyncio.timeout(30):  # a guard against a hang, not a timing
        head = await reader.readuntil(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
        await reader.readexactly(int(fields[b"content-length"]))
    return head.split(b"\r\n", 1)[0]


def _state(pid: int) -> str:
    """The process's scheduling state: S waiting (for I/O, when idle), T stopped."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _unread(server_port: int, client_port: int) -> int:
    """Bytes from the client that the server has not read yet (the Recv-Q of its end)."""
    local, remote = f":{server_port:04X}", f":{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(local) and fields[2].endswith(remote):
            return int(fields[4].split(":")[1], 16)
    raise AssertionError("the server's end of the connection is gone")


@pytest.mark.slow
@pytest.mark.parametrize("cut", [0, BEGUN], ids=["between requests", "mid-head"])
async def test_a_request_sent_while_the_server_is_stopped_is_answered(
    database_url: str, cut: int
) -> None:
    """`relay247 serve` (uvloop, as in production) stopped with SIGSTOP: a poll the stop
    interrupts returns empty once its own timeout has passed, and the timers that fell due
    run before the next poll reads what arrived meanwhile."""
    port = free_port()
    env = environment(
        DATABASE_URL=database_url,
        RELAY247_KEEP_ALIVE_TIMEOUT=str(BOUND),
        RELAY247_HEADER_TIMEOUT=str(BOUND),
    )
    started: list[asyncio.subprocess.Process] = []
    async with serving(port, env, started=started):
        server = started[0]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client_port = writer.get_extra_info("sockname")[1]
        try:
            writer.write(HEAD)
            assert await answer(reader) == b"HTTP/1.1 200 OK"
            writer.write(HEAD[:cut])

            async def read_and_idle() -> bool:
                # Idle, as a server mostly is: waiting in its poll when the stop comes.
                return _unread(port, client_port) == 0 and _state(server.pid) == "S"

            await eventually(read_and_idle)
            server.send_signal(signal.SIGSTOP)
            try:

                async def stopped() -> bool:
                    return _state(server.pid) == "T"

                await eventually(stopped)
                writer.write(HEAD[cut:])  # sent in time, to a server that is not running
                await asyncio.sleep(3 * BOUND)  # the stall
            finally:
                server.send_signal(signal.SIGCONT)
            assert await answer(reader) == b"HTTP/1.1 200 OK"
        finally:
            writer.close()


@pytest.mark.parametrize("cut", [0, BEGUN], ids=["between requests", "mid-head"])
async def test_a_request_sent_after_its_own_loop_stalled_is_answered(
    database_url: str, cut: int
) -> None:
    """The tests' server shares its loop with its clients: after a stall, the client sends
    only when its turn comes, behind the server's timers that fell due meanwhile. A
    ~10 s stall of a loaded machine, past RELAY247_HEADER_TIMEOUT, made a test's client read
    a reset on requests it had sent on connections it had just opened."""
    api = ApiSettings(
        keep_alive_timeout=timedelta(seconds=BOUND), header_timeout=timedelta(seconds=BOUND)
    )
    async with serving_app(create_app(database_url), api=api) as running:
        port = int(running.http.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(HEAD)
            assert await answer(reader) == b"HTTP/1.1 200 OK"
            writer.write(HEAD[:cut])
            client_port = writer.get_extra_info("sockname")[1]

            async def read() -> bool:
                return _unread(port, client_port) == 0

            await eventually(read)
            # The loop blocks for longer than the bound. This task's first turn after it
            # comes before the loop runs the timers that fell due (it was ready first); it
            # sends in its next one, after them, as a client slowed by the stall does.
            asyncio.get_running_loop().call_soon(time.sleep, 3 * BOUND)
            for _ in range(3):
                await asyncio.sleep(0)
            writer.write(HEAD[cut:])
            assert await answer(reader) == b"HTTP/1.1 200 OK"
        finally:
            writer.close()
