"""Run the real `relay247` command in subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.clients import LOOPBACK_TLS

RELAY247 = str(Path(sys.executable).with_name("relay247"))


def environment(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY247_")}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


async def run(*args: str, env: dict[str, str], wait: float = 120) -> tuple[int, str, str]:
    return await run_in(None, *args, env=env, wait=wait)


async def run_in(
    cwd: Path | None, *args: str, env: dict[str, str], wait: float = 120
) -> tuple[int, str, str]:
    """`relay247 ARGS` in the folder ``cwd`` (the current one when None)."""
    process = await asyncio.create_subprocess_exec(
        RELAY247,
        *args,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), wait)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@asynccontextmanager
async def serving(
    port: int,
    env: dict[str, str],
    *extra: str,
    log: Path | None = None,
    started: list[asyncio.subprocess.Process] | None = None,
) -> AsyncIterator[str]:
    """`relay247 serve` on a loopback port, until it answers /readyz; stopped with SIGTERM.
    With ``log``, the server's output goes to that file; ``started`` receives the process
    (for a test that kills it)."""
    # Its output goes to a file, never to a pipe: a pipe nobody reads fills (the server then
    # blocks on a log line) and is left open after the test (a ResourceWarning, an error here).
    log_file = log.open("wb") if log else tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    process = await asyncio.create_subprocess_exec(
        RELAY247,
        "serve",
        "--port",
        str(port),
        *extra,
        env=env,
        stdout=log_file if log else subprocess.DEVNULL,
        stderr=log_file,
    )
    if started is not None:
        started.append(process)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2, verify=LOOPBACK_TLS) as client:
            for _ in range(300):
                if process.returncode is not None:
                    raise AssertionError(_output(log_file) if log is None else f"see {log}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("relay247 serve did not become ready in 30 s")
        yield base
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log_file.close()


def _output(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")
