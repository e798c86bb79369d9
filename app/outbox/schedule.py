"""When a message that failed is tried again."""

from __future__ import annotations

import random
from collections.abc import Sequence

from app.outbox.couriers import Outcome


def next_delay(
    schedule: Sequence[float], attempts: int, outcome: Outcome, *, jitter: float
) -> float | None:
    """Seconds until the next attempt after ``attempts`` made, None when there is none: the
    schedule is spent or the outcome is final. The destination's Retry-After is honoured when
    it asks for longer than the schedule, but never past the schedule's longest wait (a
    destination cannot park a message for a year)."""
    if outcome.final or attempts >= len(schedule):
        return None
    delay = schedule[attempts] * random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 (spread, not secrecy)
    if outcome.retry_after is not None:
        delay = max(delay, min(outcome.retry_after, max(schedule)))
    return delay
