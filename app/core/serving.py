"""How the service is served: every uvicorn option in one place, so `relay247 serve` and the
test harness run the application the same way, and what the application may ask of uvicorn
beyond ASGI."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import socket
import struct
import termios
import weakref
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.observability.logs import logging_config
from app.core.settings import ApiSettings, LogSettings, RealtimeSettings

# The scope extension where ConnectionAbort leaves a function, taking no argument, that drops
# the client's connection at once; missing when the server's connection cannot be reached.
ABORT = "relay247.abort"


class ConnectionAbort:
    """Pure ASGI, outermost: lets a response drop its client's connection (ABORT).

    A response left unfinished is closed by uvicorn with the transport's close(), which writes
    out what is buffered first: a client that stopped reading would keep that socket, its file
    descriptor and megabytes of kernel buffers for as long as it keeps its window shut. ASGI
    has no message to drop a connection; uvicorn's send is a method of its request cycle, which
    holds the transport. Served otherwise (another server, or uvicorn reshaped), there is no
    ABORT, and an unfinished response gets uvicorn's close alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if scope["type"] == "http" and callable(getattr(transport, "abort", None)):
            scope.setdefault("extensions", {})[ABORT] = functools.partial(_abort, cycle, transport)
        await self.app(scope, receive, send)


def _abort(cycle: Any, transport: Any) -> None:
    connection = transport.get_extra_info("socket")
    # Linger 0: a reset, so the kernel drops the unsent bytes too instead of keeping them for a
    # client that takes none. A socket closed meanwhile (the client left) needs none.
    with contextlib.suppress(OSError):
        if connection is not None:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # What uvicorn's connection_lost will say, said now: the application may return before
    # the loop runs it, and uvicorn would log an ERROR for a response it sees unfinished on a
    # connection it believes open. Dropped on purpose, it is neither.
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True


def abort_of(scope: Scope) -> Callable[[], None] | None:
    """The function that drops this request's connection, if the server's is reachable."""
    abort: Callable[[], None] | None = scope.get("extensions", {}).get(ABORT)
    return abort


# How long a connection closed before its request's body was read keeps reading (and dropping)
# what the client still sends, so that the client reads the answer rather than a reset.
LINGER_SECONDS = 5.0
# How often a StallClock looks at its loop: a stall is counted to within this.
STALL_TICK = 0.25
# A bound on a client's silence that runs out while bytes the client sent wait unread is
# looked at again this much later, once: by then the loop has read them.
UNREAD_GRACE = 0.5
# What a bound still owes its client below this is a timer firing a hair early, not a stall.
_OWED_SLACK = 0.005


class StallClock:
    """How long an event loop has spent stalled, that is not running and so reading no
    socket: the process stopped or starved of CPU, a callback that blocked, a loop not run
    (the tests' loop between two tests). A tick every STALL_TICK counts, each time, how much
    later than that it came.

    The bounds on a client's silence (the head's, uvicorn's keep-alive) are timers, and the
    timers that fall due during a stall run when it ends, before the loop reads what
    arrived meanwhile: a poll that a SIGSTOP interrupts returns empty once its own timeout
    has passed (asyncio's selectors and libuv alike), and a client in the same process (the
    tests' server) sends only after the stall, behind the timers already due. Counting that
    time as the client's closes a connection whose request is on its way, and its client
    reads a reset. A client is charged only for time the server was listening."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weakly: the tick, scheduled on the loop, keeps this clock, not the loop this.
        self._loop = weakref.ref(loop)
        self._stalled = 0.0
        self._last = loop.time()
        loop.call_later(STALL_TICK, self._tick)

    def stalled(self) -> float:
        """Seconds stalled since the clock started, a stall ending now included (its tick
        may run after the caller)."""
        loop = self._loop()
        now = self._last if loop is None else loop.time()
        return self._stalled + max(0.0, now - self._last - STALL_TICK)

    def _tick(self) -> None:
        loop = self._loop()
        if loop is None or loop.is_closed():
            return
        self._stalled = self.stalled()
        self._last = loop.time()
        loop.call_later(STALL_TICK, self._tick)


_stall_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StallClock] = (
    weakref.WeakKeyDictionary()
)


def stall_clock(loop: asyncio.AbstractEventLoop) -> StallClock:
    """The loop's StallClock, started by the first connection."""
    clock = _stall_clocks.get(loop)
    if clock is None:
        clock = _stall_clocks[loop] = StallClock(loop)
    return clock


# When a bound on a client's silence started: the loop's time, and its StallClock's reading.
Since = tuple[float, float]


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools, what "auto" picks), with three additions.

    **A bound on the time a request's head may take**: from the connection's opening, or from
    the first byte of a next request, to the end of its headers. Past it the connection is
    closed, unanswered. uvicorn bounds the wait between requests (timeout_keep_alive) but not
    the one before the first, nor a head that stops halfway: such connections hold no
    application slot, but each holds a file descriptor for as long as its client likes, and
    one address could open them until the process has none left.

    **Both bounds, the head's and the keep-alive, count only the client's silence**: not the
    time the server's loop was stalled (StallClock), and not bytes the client sent that the
    loop has yet to read (the kernel holds them; closing would answer them with a reset). A
    request sent before its bound ran out is answered, however late the server gets to it.

    **A staged close** (RFC 9112, 9.6) of a connection answered before its request's body was
    read whole (a 413 to an upload past the limit, a 401 to a body without a credential):
    the answer is sent, the write side is shut, and what the client still sends is read and
    dropped until it closes its side (uvicorn's eof_received lets the transport close) or
    LINGER_SECONDS pass. uvicorn closes at once; the
    kernel then answers the body still arriving with a reset, and a client busy sending
    often learns only "connection reset", never the 413 that says why.

    uvicorn's methods are extended, each calling its own first or last, and only ``loop``,
    ``transport``, ``cycle``, ``handle_websocket_upgrade`` and the keep-alive's
    ``timeout_keep_alive``, ``timeout_keep_alive_task`` and ``timeout_keep_alive_handler`` are
    relied on: a new uvicorn keeps working unless it renames these."""

    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout = head_timeout
        self.head_timer: asyncio.TimerHandle | None = None
        self.lingering: asyncio.TimerHandle | None = None
        self.raw_transport: asyncio.Transport | None = None
        self.upgraded = False
        self.stalls = stall_clock(self.loop)
        self.head_since: Since = (0.0, 0.0)
        self.idle_since: Since = (0.0, 0.0)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.raw_transport = transport
        # What uvicorn and its request cycles close is the staged-close view of the transport.
        super().connection_made(_StagedClose(transport, self))  # type: ignore[arg-type]
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.lingering is not None:
            return  # the rest of a refused body: dropped
        super().data_received(data)
        # Empty lines before a request (RFC 9112, 2.2) begin none, yet they stop uvicorn's
        # keep-alive timer: the head's bound starts with them, or one "\r\n" after each
        # answer would hold the connection for as long as its client likes.
        if (
            self.head_timer is None
            and not self.upgraded
            and (self.cycle is None or self.cycle.response_complete)
            and not self.transport.is_closing()
        ):
            self._arm()

    def handle_websocket_upgrade(self) -> None:
        # A socket needs no staged close, and its frames skip the extra layer.
        assert self.raw_transport is not None
        self.upgraded = True
        self.transport = self.raw_transport
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head_timer is None:  # a next request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # armed: no pipelined request waits
            self.idle_since = (self.loop.time(), self.stalls.stalled())

    def timeout_keep_alive_handler(self) -> None:
        if self.transport.is_closing():
            return
        owed = self._owed(self.idle_since, self.timeout_keep_alive)
        if owed > 0:
            # Where uvicorn looks for it: the next request's first bytes cancel it.
            self.timeout_keep_alive_task = self.loop.call_later(
                owed, self.timeout_keep_alive_handler
            )
            return
        super().timeout_keep_alive_handler()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.lingering is not None:
            self.lingering.cancel()
        super().connection_lost(exc)

    def body_unread(self) -> bool:
        """Whether the request being answered still has body bytes on their way."""
        cycle = self.cycle
        return cycle is not None and bool(cycle.more_body) and not cycle.disconnected

    def linger(self) -> None:
        """Shut the write side once the answer is out, and drop what still arrives."""
        transport = self.raw_transport
        assert transport is not None
        self._disarm()
        self.lingering = self.loop.call_later(LINGER_SECONDS, transport.close)
        transport.resume_reading()  # uvicorn pauses reading while a body waits to be taken
        if transport.can_write_eof():
            transport.write_eof()  # after what is buffered: the answer goes out first

    def _arm(self) -> None:
        self.head_since = (self.loop.time(), self.stalls.stalled())
        self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined head, whose reading uvicorn paused until the response before it is
            # sent: the wait is the server's, not the client's.
            self._arm()
            return
        owed = self._owed(self.head_since, self.head_timeout)
        if owed > 0:
            self.head_timer = self.loop.call_later(owed, self._head_timed_out)
            return
        if not self.transport.is_closing():
            self.transport.close()

    def _owed(self, since: Since, timeout: float) -> float:
        """What is left of ``timeout`` for a client silent since ``since``: the time the
        loop was stalled is not the client's, and bytes the client sent that wait unread
        earn it one UNREAD_GRACE. 0: the connection may be closed."""
        started, stalled_then = since
        listened = self.loop.time() - started - (self.stalls.stalled() - stalled_then)
        owed = timeout - listened
        if owed > _OWED_SLACK:
            return owed
        if listened < timeout + UNREAD_GRACE / 2 and self._unread():
            return UNREAD_GRACE
        return 0.0

    def _unread(self) -> bool:
        """Whether bytes from the client wait in the kernel for the loop to read them."""
        transport = self.raw_transport
        if transport is None or transport.is_closing():
            return False
        connection = transport.get_extra_info("socket")
        if connection is None:
            return False
        try:
            waiting = fcntl.ioctl(connection.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except OSError:  # closed meanwhile
            return False
        return bool(struct.unpack("i", waiting)[0])


class _StagedClose:
    """The transport as uvicorn sees it: a close() while the request's body is still arriving
    becomes HttpProtocol's staged close; everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, protocol: HttpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        if self._protocol.lingering is None and self._protocol.body_unread():
            self._protocol.linger()
        else:
            self._transport.close()

    def is_closing(self) -> bool:
        # Lingering, the connection takes no further request: uvicorn must not read one.
        return self._protocol.lingering is not None or self._transport.is_closing()


def uvicorn_options(
    *,
    api: ApiSettings,
    realtime: RealtimeSettings,
    logs: LogSettings | None = None,
    log_level: str = "info",
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config``, but for the application,
    host, port and workers. Without ``logs``, uvicorn's own logging set-up is kept (tests)."""
    trusted_proxies = [str(network) for network in api.trusted_proxies]
    return {
        "http": functools.partial(HttpProtocol, head_timeout=api.header_timeout.total_seconds()),
        "timeout_keep_alive": api.keep_alive_timeout.total_seconds(),
        "ws": "websockets-sansio",
        "ws_max_size": 64 * 1024,
        # Frames are small JSON; deflating each one again for every socket costs more CPU
        # than the bytes it saves on a desk's link.
        "ws_per_message_deflate": False,
        "ws_ping_interval": realtime.ws_ping_interval.total_seconds(),
        "ws_ping_timeout": realtime.ws_ping_timeout.total_seconds(),
        # X-Forwarded-For is believed only from the proxies the operator named: from anyone
        # else it would let a client write any address it likes into the audit trail. An
        # explicit list also keeps uvicorn from reading FORWARDED_ALLOW_IPS behind our back.
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": trusted_proxies,
        # A startup failure (schema out of date, database unreachable) stops the server
        # rather than leaving it up without its database.
        "lifespan": "on",
        # On SIGTERM uvicorn stops accepting, closes every socket with 1012 (reconnect and
        # resume elsewhere) and waits this long for HTTP calls in flight before ending them.
        "timeout_graceful_shutdown": api.shutdown_grace.total_seconds(),
        **(
            {"log_config": logging_config(logs), "log_level": logs.level}
            if logs is not None
            else {"log_level": log_level}
        ),
    }
