"""A per-principal rate limit (RELAY247_RATE_LIMIT, off by default).

Checked right after authentication, since the principal is what is limited: one case system
in a retry loop must not take the capacity every other country's desk relies on. Requests
with no valid token are not counted here; the in-flight limit bounds them.

The count is kept in this process's memory (the `limits` library's sliding window counter):
with several instances or workers each counts on its own, so a principal may make up to the
limit once per process. That is accepted: the limit exists to stop a runaway client, not to
bill it, a restart that forgets the counts loses nothing that matters, and a shared store
would put a network round trip (and one more thing to fail) on every request.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from app.core.errors import RateLimitedError
from app.core.observability.metrics import Metrics
from app.identity.auth import Actor


class PrincipalRateLimit:
    def __init__(self, rule: str, metrics: Metrics) -> None:
        self.rule = rule
        self.items: list[RateLimitItem] = parse_many(rule)
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self.metrics = metrics

    async def check(self, actor: Actor) -> None:
        """Count one request of ``actor``, or raise RateLimitedError if it is over a limit."""
        key = str(actor.principal_id)
        for item in self.items:
            if not await self.limiter.hit(item, key):
                self.metrics.http_requests_shed.labels("rate_limited").inc()
                stats = await self.limiter.get_window_stats(item, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimitedError(
                    f"this principal is over its limit of {item.amount} requests per "
                    f"{item.get_expiry()} s; retry in {wait} s",
                    retry_after=wait,
                )


async def enforce(request: Request, actor: Actor) -> None:
    """Apply the app's rate limit, if it has one, to ``actor``."""
    rate_limit: PrincipalRateLimit | None = request.app.state.rate_limit
    if rate_limit is not None:
        await rate_limit.check(actor)
