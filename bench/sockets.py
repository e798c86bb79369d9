"""Opening dashboards: WebSockets authenticated with a desk token.

A dashboard sends ``resume`` as its very first frame, right after the handshake and before
the welcome arrives (the protocol is moving to "resume first"; servers that take it later
accept it too). A dashboard with nothing to catch up on sends an empty one: start live now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CONNECT_BATCH = 25  # handshakes in flight at once


async def open_dashboard(
    ws_url: str, token: str, cursors: dict[str, int] | None = None
) -> ClientConnection:
    """Connect, send ``resume`` at once, and wait for the welcome."""
    connection = await connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None
    )
    try:
        await connection.send(resume_frame(cursors or {}))
        welcome = json.loads(await connection.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"expected a welcome frame, got {welcome!r}")
    except BaseException:
        await connection.close()
        raise
    return connection


def resume_frame(cursors: dict[str, int]) -> str:
    return json.dumps({"type": "resume", "cursors": cursors})


@dataclass(slots=True)
class Opened:
    connections: list[ClientConnection]
    elapsed_s: float  # from the first handshake to the last welcome

    def as_json(self) -> dict[str, Any]:
        count = len(self.connections)
        return {
            "connect_s": round(self.elapsed_s, 3),
            "connects_per_s": round(count / self.elapsed_s, 1) if self.elapsed_s else None,
        }


@contextlib.asynccontextmanager
async def opened(
    ws_url: str, tokens: Sequence[str], batch: int = CONNECT_BATCH
) -> AsyncIterator[Opened]:
    """Open one dashboard per token, ``batch`` handshakes at a time; close them all at the end,
    whatever happens."""
    result = Opened([], 0.0)
    started = time.perf_counter()
    try:
        for start in range(0, len(tokens), batch):
            group = tokens[start : start + batch]
            outcomes = await asyncio.gather(
                *(open_dashboard(ws_url, token) for token in group), return_exceptions=True
            )
            result.connections.extend(o for o in outcomes if isinstance(o, ClientConnection))
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                raise failures[0]
        result.elapsed_s = time.perf_counter() - started
        yield result
    finally:
        await asyncio.gather(*(c.close() for c in result.connections), return_exceptions=True)
