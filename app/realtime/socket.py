"""One authenticated WebSocket: its cursors, the frames it answers, and how it ends.

The life of a socket:

1. Starting (``_start``): it follows its channels on the hub and sends ``welcome`` with each
   channel's head, then waits for the client's first frame. A ``resume`` states the cursors
   to deliver from; anything else, or silence for ``ws_resume_wait``, starts from the heads.
   No event is sent before the cursors are known, so nothing arrives twice or out of order.
2. Live (``_live``): a sender task sends every event after the cursors, in offset order,
   moving each cursor by exactly one per frame (replay and live delivery are the same loop);
   a receiver task answers the client's frames. After a ``resume``, a ``resumed`` frame marks
   the moment the socket caught up with everything that was committed before.
3. Closing (``_close``): whatever ends it (the client, a revoked token, a client too slow
   to take its frames, a database outage, a bug) ends both tasks and, unless the client is
   gone, sends a close code that tells the client what to do (see protocol.py). A socket is
   never left half alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.core.database import Database
from app.core.database.faults import is_unavailable
from app.core.errors import DomainError, UnauthenticatedError
from app.core.observability.metrics import Metrics
from app.core.observability.redaction import traceback_without_messages
from app.core.settings import RealtimeSettings
from app.identity import auth
from app.identity.auth import Actor
from app.realtime import audience, event_log
from app.realtime.hub import Hub
from app.realtime.protocol import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY,
    CLOSE_TOKEN_REVOKED,
    CLOSE_TRY_AGAIN_LATER,
    AckFrame,
    AuthFrame,
    PingFrame,
    ReceivedFrame,
    ResumeFrame,
    client_frame,
)
from app.requests import actions, views
from app.requests.schemas import UnconfirmedRequest

log = logging.getLogger(__name__)

Frame = AuthFrame | ResumeFrame | AckFrame | ReceivedFrame | PingFrame
# A request use case a frame runs, as the actor, in its own transaction.
_UseCase = Callable[[AsyncSession, Actor, uuid.UUID], Awaitable[BaseModel]]
T = TypeVar("T")
# A close frame's reason must fit in 123 bytes.
_MAX_REASON_BYTES = 120


class PeerGone(Exception):
    """Reading from or writing to the client failed: it is gone, there is no one to tell."""


class _Refused(Exception):
    """The client broke the protocol; close with 1008 and this reason."""


class SocketSession:
    def __init__(
        self,
        websocket: WebSocket,
        actor: Actor,
        *,
        hub: Hub,
        database: Database,
        settings: RealtimeSettings,
        reopen_window: timedelta,
        metrics: Metrics,
    ) -> None:
        self.websocket = websocket
        self._metrics = metrics
        self.close_code: int | None = None  # how it ended: the server's code or the client's
        self.actor = actor
        self._hub = hub
        self._database = database
        self._settings = settings
        self._batch = settings.backfill_batch
        self._reopen_window = reopen_window
        self._cursors: dict[str, int] = {}
        self._wakeup = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._resumed_pending = False  # a `resumed` frame is due once the socket caught up
        self._close_requested: tuple[int, str] | None = None
        self._tasks: tuple[asyncio.Task[None], ...] = ()  # sender and receiver, once live
        self.sending_since: float | None = None  # monotonic time the pending send began

    # --- called by the hub and the token watcher: never block -------------------------------

    def wake(self) -> None:
        self._wakeup.set()

    def add_channel(self, channel: str) -> None:
        if channel not in self._cursors:
            self._cursors[channel] = 0
            self._hub.add_to_channel(self, channel)
            self._wakeup.set()

    def request_close(self, code: int, reason: str) -> None:
        if self._close_requested is None:
            self._close_requested = (code, reason)
            # Ending either task ends the live phase, which then sends the close.
            for task in self._tasks:
                task.cancel()

    def backlog(self) -> int:
        """Events committed (and read by the hub) that this socket has not sent yet."""
        return sum(max(0, self._hub.head(c) - cursor) for c, cursor in self._cursors.items())

    # --- the life of the socket ------------------------------------------------------------

    async def serve(self) -> None:
        channels: list[str] = []
        try:
            channels = await audience.channels_for(self.actor, self._hub.engine.connect)
            prefix = audience.prefix_followed_by(self.actor)
            heads = await self._hub.follow(self, channels, prefix=prefix)
            self._cursors = dict(heads)
            await self._welcome(channels, heads)
            first = await self._start(heads)
            await self._live(first)
        except PeerGone:
            pass
        except _Refused as exc:
            await self._close(CLOSE_POLICY, str(exc))
        except Exception as exc:
            if is_unavailable(exc):
                log.warning("socket closed: database unavailable (%s)", type(exc).__name__)
                await self._close(CLOSE_TRY_AGAIN_LATER, "database unavailable: reconnect later")
            else:
                log.error("socket failed\n%s", traceback_without_messages(exc))
                await self._close(CLOSE_INTERNAL_ERROR, "server error: reconnect and resume")
        finally:
            self._hub.unfollow(self, list(self._cursors) or channels)
            self._metrics.ws_closes.labels(str(self.close_code or 1006)).inc()

    async def _welcome(self, channels: list[str], heads: dict[str, int]) -> None:
        # A method of its own: its locals (up to 100 unconfirmed requests) die once it is
        # sent, instead of living in serve()'s frame for the whole life of the socket
        # (measured: 150 KiB more per idle socket of a busy desk).
        # Read after the heads: a request assigned meanwhile is listed and pushed too,
        # never neither (a dashboard merges both by request id).
        unconfirmed = await self._unconfirmed(channels)
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
                "heads": heads,
                "unconfirmed": [item.model_dump(mode="json") for item in unconfirmed],
            }
        )

    async def _unconfirmed(self, channels: list[str]) -> list[UnconfirmedRequest]:
        """What was pushed to this socket's desks or to its principal that no screen has
        confirmed: a dashboard that was offline then shows it from the welcome."""
        prefix = audience.DESK_PREFIX
        desks = [channel.removeprefix(prefix) for channel in channels if channel.startswith(prefix)]
        own = audience.principal_channel(self.actor.principal_id) in channels
        if not desks and not own:
            return []  # a sender's socket: nothing is assigned to it
        # On the REST pool, like the socket's authentication, not on the realtime reads' few
        # connections: those feed every socket's live events, and a reconnect storm's
        # welcomes queued there would hold up delivery itself.
        async with self._database.transaction() as session:
            return await views.unconfirmed(session, self.actor, desks=desks, own=own)

    async def _start(self, heads: dict[str, int]) -> Frame | None:
        """Wait for the first frame; set the cursors. Returns a first frame that was not a
        resume, for the receiver to answer."""
        try:
            async with asyncio.timeout(self._settings.ws_resume_wait.total_seconds()):
                text = await self._receive_text()
        except TimeoutError:
            return None
        try:
            frame = client_frame.validate_json(text) if text is not None else None
        except ValidationError as exc:
            if _frame_type(text) == "resume":
                raise _Refused(f"invalid resume: {_problems(exc)}") from exc
            await self._error(f"unreadable frame: {_problems(exc)}")
            return None
        if not isinstance(frame, ResumeFrame):
            if text is None:
                await self._error("send JSON text frames, not binary ones")
            return frame
        foreign = sorted(set(frame.cursors) - set(heads))
        if foreign:
            raise _Refused(f"resume names channels that are not yours: {', '.join(foreign)}")
        last = await self._last_offsets(heads, frame.cursors)
        beyond = {c: n for c, n in frame.cursors.items() if n > last[c]}
        if beyond:
            await self._error(
                "a cursor is beyond its channel's last offset; resuming from the last offset",
                cursors=beyond,
                heads={c: last[c] for c in beyond},
            )
        # A cursor ahead of the hub's head is kept: the send loop waits for the hub to read
        # past it, and sends nothing the client already has.
        self._cursors.update({c: min(n, last[c]) for c, n in frame.cursors.items()})
        self._resumed_pending = True
        return None

    async def _last_offsets(self, heads: dict[str, int], cursors: dict[str, int]) -> dict[str, int]:
        """Each channel's last offset, to check the resume's cursors against.

        The welcome's heads are only how far this instance's hub has read, and the hub can
        lag the table by seconds (in a reconnect storm it waits for a connection behind every
        socket's backfill). A client may legitimately be further: another instance sent it
        those offsets, or this one did, from the table (a socket behind the replay buffer
        reads up to a batch past its cursor, past the hub's head). Clamping such a cursor to
        the hub's head re-sent every offset in between, a duplicate per offset. So a cursor
        beyond the hub's head is checked against the table, the only judge of what exists;
        the common resume (at or behind the hub) costs no query."""
        ahead = [c for c, n in cursors.items() if n > heads[c]]
        if not ahead:
            return heads
        # On the REST pool, as _unconfirmed: the realtime reads' few connections feed the
        # hub, which is already behind when this happens.
        async with self._database.engine.connect() as connection:
            return {**heads, **await event_log.heads(connection, ahead)}

    async def _live(self, first: Frame | None) -> None:
        if self._close_requested is not None:  # asked for while it was starting
            await self._close(*self._close_requested)
            return
        sender = asyncio.create_task(self._send_loop(), name="relay247-socket-send")
        receiver = asyncio.create_task(self._receive_loop(first), name="relay247-socket-receive")
        self._tasks = (sender, receiver)
        try:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = ()
        for task in done:
            if not task.cancelled():
                task.result()  # raises what ended it
        if self._close_requested is not None:
            await self._close(*self._close_requested)

    async def _close(self, code: int, reason: str) -> None:
        self.close_code = code
        # A client that stopped reading cannot take the close frame either; it gets it if it
        # reads again within the bound, else the server's ping timeout ends the connection.
        with contextlib.suppress(PeerGone, TimeoutError):
            async with asyncio.timeout(self._settings.ws_ping_timeout.total_seconds()):
                async with self._send_lock:
                    short = reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
                    await _peer(self.websocket.close(code, short))

    # --- outgoing --------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            self._wakeup.clear()  # before looking, so a wake-up while sending is not lost
            if await self._send_available():
                continue
            if self._resumed_pending:
                self._resumed_pending = False
                await self._send({"type": "resumed", "cursors": dict(self._cursors)})
            await self._wakeup.wait()

    async def _send_available(self) -> bool:
        """One batch per channel that has news, channels taking turns. True if any was sent."""
        sent = 0
        for channel in list(self._cursors):
            cursor = self._cursors[channel]
            if self._hub.head(channel) <= cursor:
                continue
            events = self._hub.buffered_after(channel, cursor, self._batch)
            if events is None:
                events = await self._hub.read_after(channel, cursor, self._batch)
            for event in events:
                if event.offset != self._cursors[channel] + 1:
                    log.error("offset %s of %s out of sequence; re-reading", event.offset, channel)
                    break
                await self._send_text(event.frame)
                self._cursors[channel] = event.offset
                self._metrics.push_latency.observe(max(0.0, time.time() - event.written_at))
                sent += 1
        if sent:
            self._metrics.ws_events_sent.inc(sent)
        return sent > 0

    async def _send(self, frame: dict[str, Any]) -> None:
        await self._send_text(json.dumps(frame, separators=(",", ":"), default=str))

    async def _send_text(self, text: str) -> None:
        async with self._send_lock:
            # Watched by the registry's stall sweep: a timer per frame would cost more than
            # the send itself when one event goes to a thousand sockets.
            self.sending_since = time.monotonic()
            try:
                await _peer(self.websocket.send_text(text))
            finally:
                self.sending_since = None

    def stalled(self, now: float) -> bool:
        """The client has taken nothing for ws_send_timeout while a frame waits for it."""
        since = self.sending_since
        return since is not None and now - since > self._settings.ws_send_timeout.total_seconds()

    async def _error(self, detail: str, **extra: Any) -> None:
        await self._send({"type": "error", "detail": detail, **extra})

    # --- incoming --------------------------------------------------------------------------

    async def _receive_text(self) -> str | None:
        """The next frame's text (None for a binary frame)."""
        message = await _peer(self.websocket.receive())
        if message["type"] == "websocket.disconnect":
            self.close_code = message.get("code")
            raise PeerGone
        text: str | None = message.get("text")
        return text

    async def _receive_loop(self, first: Frame | None) -> None:
        if first is not None:
            await self._handle(first)
        while True:
            text = await self._receive_text()
            if text is None:
                await self._error("send JSON text frames, not binary ones")
                continue
            try:
                frame = client_frame.validate_json(text)
            except ValidationError as exc:
                await self._error(f"unreadable frame: {_problems(exc)}")
                continue
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        match frame:
            case PingFrame():
                await self._send({"type": "pong"})
            case AuthFrame():
                await self._error("already authenticated")
            case ResumeFrame():
                await self._error(
                    "resume is only taken as the first frame after authenticating: "
                    "reconnect to resume from other cursors"
                )
            case AckFrame(request_id=request_id):
                acknowledge = functools.partial(
                    actions.acknowledge, reopen_window=self._reopen_window
                )
                await self._on_request(request_id, acknowledge, answer="ack_result", retry="ack")
            case ReceivedFrame(request_id=request_id):
                receive = functools.partial(actions.receive, reopen_window=self._reopen_window)
                await self._on_request(
                    request_id, receive, answer="received_result", retry="receipt"
                )

    async def _on_request(
        self, request_id: uuid.UUID, use_case: _UseCase, *, answer: str, retry: str
    ) -> None:
        """Run a frame's use case on a request and answer with its result, or with an error
        frame (the socket stays): a request the actor may not see is a 404, as over REST."""
        try:
            async with self._database.transaction() as session:
                # The socket outlives checks made at its start: the token must still work.
                await auth.ensure_still_usable(session, self.actor)
                result = await use_case(session, self.actor, request_id)
        except UnauthenticatedError as exc:
            self.request_close(CLOSE_TOKEN_REVOKED, exc.detail)
            return
        except DomainError as exc:
            await self._error(exc.detail, status=exc.status, request_id=str(request_id))
            return
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            await self._error(
                f"database unavailable: nothing was changed; send the {retry} again",
                status=503,
                request_id=str(request_id),
            )
            return
        await self._send({"type": answer, **result.model_dump(mode="json")})


async def _peer(operation: Awaitable[T]) -> T:
    """Await a read or write on the socket; its failures mean the client is gone."""
    try:
        return await operation
    except (WebSocketDisconnect, OSError, RuntimeError) as exc:
        # OSError: uvicorn's ClientDisconnected; RuntimeError: Starlette's "send after close".
        raise PeerGone from exc


def _frame_type(text: str | None) -> object:
    try:
        parsed = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return parsed.get("type") if isinstance(parsed, dict) else None


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'frame'}: {e['msg']}" for e in exc.errors()[:3]
    )
