"""A request id on every HTTP response and on every log line written while handling it.

The id comes from the caller's ``X-Request-Id`` when that is a short, safe token (so a case
system or a proxy can follow its own id through our logs), else it is made here. Anything
else a client sends there is dropped, not cleaned: it would end up in log lines and headers.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-Id"
_HEADER_KEY = HEADER.lower().encode()
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Shown on log lines written outside any request (startup, background loops).
NO_REQUEST = "-"

current_request_id: ContextVar[str] = ContextVar("relay247_request_id", default=NO_REQUEST)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == _HEADER_KEY:
            candidate = value.decode("latin-1")
            if _SAFE.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestId:
    """Pure ASGI: BaseHTTPMiddleware would run the app in another task, where the context
    variable set here is not seen, and it buffers streamed responses.

    A WebSocket gets an id too (in ``scope["state"]`` and on its log lines), but its
    handshake and messages pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            header = (_HEADER_KEY, request_id.encode())

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record as ``request_id``. Installed on the
    handler, so records of every logger get it, uvicorn's included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True
