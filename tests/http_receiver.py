"""A real HTTP server on loopback standing in for what relay247 sends to (a case system's
webhook endpoint, a gateway): each test says how each path answers, and reads what arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from tests.conftest import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(status: int, body: str = "", headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=body, headers=headers)

    return handler


def held(gate: asyncio.Event, status: int = 204) -> Handler:
    """Answers only once ``gate`` is set: a slow destination, or one that hangs."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await gate.wait()
        return web.Response(status=status)

    return handler


@dataclass(frozen=True)
class Arrival:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class HttpReceiver:
    routes: dict[str, Handler] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    # Requests being answered right now, per path (a destination's concurrency).
    open: dict[str, int] = field(default_factory=dict)
    most_open: dict[str, int] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    _runner: web.ServerRunner | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path
        self.arrivals.append(
            Arrival(path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        self.open[path] = self.open.get(path, 0) + 1
        self.most_open[path] = max(self.most_open.get(path, 0), self.open[path])
        try:
            return await self.routes.get(path, answer(204))(request)
        finally:
            self.open[path] -= 1

    async def __aenter__(self) -> HttpReceiver:
        self._runner = web.ServerRunner(web.Server(self._handle), handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
