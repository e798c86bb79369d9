"""One authenticated WebSocket: its cursors, its bounded queue, and the frames it answers.

Every event a socket sends moves its cursor for that channel by exactly one. An event that
would skip offsets (after a resume, or while the socket was subscribing) first pulls the
missing ones from the table, and one at or below the cursor is a duplicate and is dropped:
so a client sees each offset of its channels once, in order, with no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.database import Database
from app.errors import DomainError
from app.realtime.hub import Hub, LiveEvent
from app.realtime.protocol import (
    CLOSE_RESUME,
    AckFrame,
    AuthFrame,
    PingFrame,
    ResumeFrame,
    client_frame,
)
from app.services import events as event_channels
from app.services import requests as request_service
from app.services.auth import Actor

log = logging.getLogger(__name__)

# How a peer that went away shows itself, depending on whether we were reading or writing.
# Starlette raises RuntimeError for a send after the close handshake has begun.
DISCONNECTED = (WebSocketDisconnect, OSError, RuntimeError)


class SocketState(enum.Enum):
    OPEN = "open"  # authenticated, subscribed, welcome sent
    CLOSING = "closing"
    CLOSED = "closed"


class SocketSession:
    def __init__(
        self,
        websocket: WebSocket,
        actor: Actor,
        *,
        hub: Hub,
        database: Database,
        queue_size: int,
        close_timeout: float,
    ) -> None:
        self.websocket = websocket
        self.actor = actor
        self._hub = hub
        self._database = database
        self._queue: asyncio.Queue[LiveEvent | ResumeFrame] = asyncio.Queue(queue_size)
        self._send_lock = asyncio.Lock()
        self._close_timeout = close_timeout
        self._cursors: dict[str, int] = {}
        self._closer: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self.state = SocketState.OPEN

    # --- the hub's side ------------------------------------------------------------------

    def offer(self, event: LiveEvent) -> None:
        if self.state is not SocketState.OPEN:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._begin_close(CLOSE_RESUME, "too far behind: reconnect and resume")

    def _begin_close(self, code: int, reason: str) -> None:
        if self.state is not SocketState.OPEN:
            return
        self.state = SocketState.CLOSING
        self._hub.unsubscribe(self)
        self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        # The sender may be blocked on a peer that stopped reading, holding the send lock:
        # stop it (it is cancelled before a frame is written, never halfway through one).
        if self._sender is not None:
            self._sender.cancel()
        with contextlib.suppress(*DISCONNECTED, TimeoutError):
            async with asyncio.timeout(self._close_timeout):
                async with self._send_lock:
                    await self.websocket.close(code, reason)
        # A peer that never reads again is reaped by the server's ping timeout.

    # --- life of the socket --------------------------------------------------------------

    async def serve(self) -> None:
        channels = event_channels.channels_for(self.actor)
        self._cursors = await self._hub.subscribe(self, channels)
        self._sender = sender = asyncio.create_task(self._send_loop(), name="relay247-socket-send")
        try:
            await self._send(
                {
                    "type": "welcome",
                    "principal": {
                        "id": str(self.actor.principal_id),
                        "name": self.actor.name,
                        "role": self.actor.role.value,
                        "agency_id": str(self.actor.agency_id),
                        "country": self.actor.country,
                    },
                    "channels": channels,
                    "cursors": dict(self._cursors),
                }
            )
            await self._receive_loop()
        except DISCONNECTED:
            pass
        finally:
            self.state = SocketState.CLOSED
            self._hub.unsubscribe(self)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, *DISCONNECTED):
                await sender
            if self._closer is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._closer

    async def _send(self, frame: dict[str, Any]) -> None:
        await self._send_text(json.dumps(frame, separators=(",", ":"), default=str))

    async def _send_text(self, text: str) -> None:
        async with self._send_lock:
            await self.websocket.send_text(text)

    # --- outgoing events -----------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, ResumeFrame):
                await self._resume(item.cursors)
                continue
            cursor = self._cursors.get(item.channel)
            if cursor is None or item.offset <= cursor:
                continue
            if item.offset > cursor + 1:
                await self._backfill({item.channel: cursor}, upto=item.offset - 1)
            await self._deliver(item)

    async def _deliver(self, event: LiveEvent) -> None:
        await self._send_text(event.frame)
        self._cursors[event.channel] = event.offset

    async def _backfill(self, cursors: dict[str, int], *, upto: int | None = None) -> None:
        pending = dict(cursors)
        while pending:
            batch = await self._hub.read_since(pending)
            if not batch:
                return
            for event in batch:
                if upto is not None and event.offset > upto:
                    return
                if event.offset == self._cursors[event.channel] + 1:
                    await self._deliver(event)
            pending = {c: self._cursors[c] for c in {e.channel for e in batch}}

    async def _resume(self, requested: dict[str, int]) -> None:
        heads = await self._hub.heads(requested)
        beyond = {c: n for c, n in requested.items() if n > heads[c]}
        for channel, offset in requested.items():
            self._cursors[channel] = min(offset, heads[channel])
        await self._backfill({c: self._cursors[c] for c in requested})
        if beyond:
            await self._send(
                {
                    "type": "error",
                    "detail": "a cursor is beyond its channel's last offset; resumed from there",
                    "cursors": beyond,
                    "heads": heads,
                }
            )
        await self._send({"type": "resumed", "cursors": dict(self._cursors)})

    # --- incoming frames -----------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while self.state is SocketState.OPEN:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._error("send JSON text frames, not binary ones")
                continue
            try:
                frame = client_frame.validate_json(text)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'frame'}: {e['msg']}"
                    for e in exc.errors()[:3]
                )
                await self._error(f"unreadable frame: {problems}")
                continue
            await self._handle(frame)

    async def _handle(self, frame: AuthFrame | ResumeFrame | AckFrame | PingFrame) -> None:
        match frame:
            case PingFrame():
                await self._send({"type": "pong"})
            case AuthFrame():
                await self._error("already authenticated")
            case ResumeFrame(cursors=cursors):
                foreign = sorted(set(cursors) - set(self._cursors))
                if foreign:
                    await self._error(f"not your channels: {', '.join(foreign)}")
                    return
                try:
                    self._queue.put_nowait(frame)
                except asyncio.QueueFull:
                    self._begin_close(CLOSE_RESUME, "too far behind: reconnect and resume")
            case AckFrame(request_id=request_id):
                try:
                    async with self._database.transaction() as session:
                        result = await request_service.acknowledge(session, self.actor, request_id)
                except DomainError as exc:
                    await self._error(exc.detail, status=exc.status, request_id=str(request_id))
                    return
                await self._send({"type": "ack_result", **result.model_dump(mode="json")})

    async def _error(self, detail: str, **extra: Any) -> None:
        await self._send({"type": "error", "detail": detail, **extra})
