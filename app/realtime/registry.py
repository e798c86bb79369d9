"""The open sockets of this instance, and the two watches over them: one ends sockets whose
token stopped working (revoked or expired, on any instance), the other sockets whose client
stopped taking frames."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.supervisor import Heartbeat
from app.identity import auth
from app.realtime.protocol import CLOSE_TOKEN_REVOKED, CLOSE_TOO_SLOW
from app.realtime.socket import SocketSession


class SocketRegistry:
    def __init__(self) -> None:
        self._sockets: set[SocketSession] = set()

    def add(self, socket: SocketSession) -> None:
        self._sockets.add(socket)

    def discard(self, socket: SocketSession) -> None:
        self._sockets.discard(socket)

    def __iter__(self) -> Iterator[SocketSession]:
        return iter(tuple(self._sockets))

    def __len__(self) -> int:
        return len(self._sockets)

    def backlog(self) -> int:
        """Events read by the hub but not yet sent, over all sockets."""
        return sum(socket.backlog() for socket in self)

    async def watch_tokens(self, beat: Heartbeat, *, engine: AsyncEngine, interval: float) -> None:
        """Supervised loop: one query for every open socket's token, every ``interval``. A
        revocation is a committed row, so every instance sees it within the interval."""
        while True:
            sockets = list(self)
            if sockets:
                async with engine.connect() as connection:
                    unusable = await auth.unusable_tokens(
                        connection, {socket.actor.token_id for socket in sockets}
                    )
                for socket in sockets:
                    if socket.actor.token_id in unusable:
                        socket.request_close(
                            CLOSE_TOKEN_REVOKED, "token revoked or expired, or principal disabled"
                        )
            beat()
            await asyncio.sleep(interval)

    async def watch_stalls(self, beat: Heartbeat, *, interval: float) -> None:
        """Supervised loop: a socket whose pending send has not gone through for its
        ws_send_timeout is closed with 4000 (reconnect and resume). In memory only: a sweep
        over a few thousand sockets costs well under a millisecond."""
        while True:
            now = time.monotonic()
            for socket in self:
                if socket.stalled(now):
                    socket.request_close(
                        CLOSE_TOO_SLOW, "too slow to take events: reconnect and resume"
                    )
            beat()
            await asyncio.sleep(interval)
