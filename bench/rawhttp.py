"""A minimal HTTP/1.1 client for the open-loop overload: pre-encoded POSTs on keep-alive
connections, status and headers parsed, nothing else.

httpx costs this process a few milliseconds of CPU per POST: enough that, on a small
machine, the Python client cannot offer twice what relay247 sustains, and the overload
test would measure the client. This client does a small fraction of that work. It speaks
only to a server it knows (uvicorn): every response has a Content-Length (no chunked
bodies), and a response says ``Connection: close`` when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any
from urllib.parse import urlsplit

from bench.submit import Submitted
from bench.workload import Credentials, request_body, route


class RawClient:
    """Up to ``max_connections`` keep-alive connections to one host; a POST waits for a free
    one (that wait counts in its latency, as httpx's pool wait does)."""

    def __init__(self, base_url: str, max_connections: int, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._authority = f"{self._host}:{self._port}"
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._timeout_s = timeout_s
        self.opened = 0  # connections opened over the client's life

    def encode_post(self, path: str, token: str, body: dict[str, Any]) -> bytes:
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._authority}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send one pre-encoded request; return (status, headers, body)."""
        async with self._slots:
            reader, writer = self._idle.pop() if self._idle else await self._open()
            keep = False
            try:
                async with asyncio.timeout(self._timeout_s):
                    writer.write(raw)
                    head = await reader.readuntil(b"\r\n\r\n")
                    status, headers = _parse_head(head)
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                keep = headers.get("connection", "").lower() != "close"
                return status, headers, body
            finally:
                if keep:
                    self._idle.append((reader, writer))
                else:
                    writer.close()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(self._timeout_s):
            connection = await asyncio.open_connection(self._host, self._port)
        self.opened += 1
        return connection

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


class RawSubmitter:
    """``submit`` (bench/submit.py) over a RawClient: the same bodies, tokens and routes,
    encoded once per route and reused."""

    def __init__(self, client: RawClient, credentials: Credentials, first: int) -> None:
        countries = credentials.countries
        self._client = client
        self._routes = len(countries) * (len(countries) - 1)
        self._first = first
        self._encoded = []
        for index in range(first, first + self._routes):
            source, target = route(index, countries)
            raw = client.encode_post(
                "/v1/requests", credentials.units[source], request_body(target, index)
            )
            self._encoded.append((target, raw))

    async def __call__(self, index: int, due: float) -> Submitted:
        target, raw = self._encoded[(index - self._first) % self._routes]
        sent = time.perf_counter()
        try:
            status, headers, body = await self._client.request(raw)
        except TimeoutError:
            return Submitted(target, due, sent, time.perf_counter(), "Timeout", None)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            return Submitted(target, due, sent, time.perf_counter(), type(exc).__name__, None)
        answered = time.perf_counter()
        request_id = json.loads(body)["id"] if status == 201 else None
        return Submitted(
            target, due, sent, answered, str(status), request_id, headers.get("retry-after")
        )
