"""Bound the HTTP requests in flight; refuse the excess at once.

Without a bound, a burst beyond what the database pool serves waits in the pool's queue: every
request gets slower, the slowest wait up to the pool timeout (30 s) and then fail with a 500
after all that work. Refusing at the door instead keeps the accepted requests as fast as the
pool allows, and tells the others at once, before their body is read, to come back shortly.

No waiting room before the refusal: a request that cannot start now would wait for another to
finish, which is what the pool's queue already did. A short queue is worth adding only if a
measurement shows it turns refusals into fast answers.

The limit is read from ``app.state.max_in_flight`` (set by create_app) on each request, so a
test can lower it on a running app, as it does other settings.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import problem
from app.observability.metrics import Metrics

# Probes and scrapes must answer while the service is saturated: that is when they matter.
NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics"})
# A second is long against a transaction of a few milliseconds and short for a person.
RETRY_AFTER_SECONDS = 1


class InFlightLimit:
    """Pure ASGI; WebSocket upgrades pass through: a socket is long-lived, and what it costs
    does not grow with the events waiting for it (see app/realtime/hub.py)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # One event loop per process runs every request: a plain counter is exact.
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        limit: int = scope["app"].state.max_in_flight
        if self.in_flight >= limit:
            self.metrics.http_requests_shed.labels("overload").inc()
            response = problem(
                503,
                "Service overloaded",
                f"the service is processing its limit of {limit} requests; nothing was done, "
                f"retry in {RETRY_AFTER_SECONDS} s",
                slug="overloaded",
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            await response(scope, receive, send)
            return
        self.in_flight += 1
        self.metrics.http_requests_in_flight.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.metrics.http_requests_in_flight.dec()
