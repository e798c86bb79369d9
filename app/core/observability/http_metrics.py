"""Count and time every HTTP request, labelled by route template."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.observability.metrics import Metrics

UNMATCHED = "unmatched"
# What a request whose client left before any answer is recorded as (nginx's "client closed
# request"): not a 5xx, since nothing failed, and no answer reached anyone.
CLIENT_CLOSED = 499
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request, e.g. ``/v1/requests/{request_id}``;
    never the path itself, which holds ids and whatever a client chose to send.

    Known only once the router has run, so it is read after the response."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    # FastAPI records the selected route only for its own API routes; the documentation
    # pages are plain Starlette routes, recognised by the endpoint the router selected.
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for route in scope["app"].routes:
            if getattr(route, "endpoint", None) is endpoint:
                template: Any = route.path
                return str(template)
    return UNMATCHED


class HttpMetrics:
    """Pure ASGI, so streamed responses pass through unbuffered and are timed to their last
    byte. WebSockets pass through untouched (the realtime code has metrics of its own)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it answers, the server answers 500
        answered = left = False

        async def receive_and_watch() -> Message:
            nonlocal left
            message = await receive()
            left = left or message["type"] == "http.disconnect"
            return message

        async def send_and_watch(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive_and_watch, send_and_watch)
        finally:
            if left and not answered:
                status = CLIENT_CLOSED
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = route_template(scope)
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_request_duration.labels(method, route).observe(
                time.perf_counter() - started
            )
