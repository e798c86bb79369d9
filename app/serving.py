"""How the service is served: every uvicorn option in one place, so `relay247 serve` and the
test harness run the application the same way, and what the application may ask of uvicorn
beyond ASGI."""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.observability.logs import logging_config
from app.settings import ApiSettings, LogSettings, RealtimeSettings

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
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if scope["type"] == "http" and callable(getattr(transport, "abort", None)):
            scope.setdefault("extensions", {})[ABORT] = functools.partial(_abort, transport)
        await self.app(scope, receive, send)


def _abort(transport: Any) -> None:
    connection = transport.get_extra_info("socket")
    # Linger 0: a reset, so the kernel drops the unsent bytes too instead of keeping them for a
    # client that takes none. A socket closed meanwhile (the client left) needs none.
    with contextlib.suppress(OSError):
        if connection is not None:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def abort_of(scope: Scope) -> Callable[[], None] | None:
    """The function that drops this request's connection, if the server's is reachable."""
    abort: Callable[[], None] | None = scope.get("extensions", {}).get(ABORT)
    return abort


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
