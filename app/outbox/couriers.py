"""A courier carries the messages of one route (webhooks, e-mail, Web Push, gateways): it
loads their destinations, makes one attempt, and says how it went. The sender
(sender.py) does the rest: leasing, concurrency, retries and the delivery log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.outbox import Route

# What an attempt's outcome is called in the delivery log (OutboxAttempt.outcome).
DELIVERED = "delivered"
REJECTED = "rejected"  # the destination answered, but not with success
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"  # no connection, or it broke
REFUSED = "refused"  # relay247 may not connect there (HTTPS only, private addresses)
INVALID = "invalid"  # the destination cannot take it: gone, disabled, unusable
MOOT = "moot"  # no longer worth sending


@dataclass(frozen=True, slots=True)
class Leased:
    """A message a sender holds for one attempt."""

    id: uuid.UUID
    route: Route
    destination_id: uuid.UUID
    event_type: str
    request_id: uuid.UUID | None
    principal_id: uuid.UUID | None
    payload: dict[str, Any]
    attempt: int  # 1 for the first
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str
    status_code: int | None = None
    # The start of the destination's answer, or the error's class: never our payload.
    response: str | None = None
    # Seconds the destination asked us to wait (Retry-After on 429 and 503).
    retry_after: float | None = None
    # No retry: the destination is gone (410), unusable, or the message moot.
    final: bool = False

    @property
    def delivered(self) -> bool:
        return self.outcome == DELIVERED


@dataclass(frozen=True, slots=True)
class Attempted:
    message: Leased
    outcome: Outcome
    started_at: datetime
    duration_ms: int


class Courier(Protocol):
    route: Route
    schedule: Sequence[float]  # seconds before each attempt, the first included

    async def destinations(
        self, session: AsyncSession, ids: set[uuid.UUID]
    ) -> Mapping[uuid.UUID, Any]:
        """The usable destinations among ``ids``, loaded at once for a batch; one missing
        from the answer (deleted, disabled) makes its messages fail as ``invalid``."""
        ...

    async def send(self, message: Leased, destination: Any) -> Outcome:
        """One attempt. Must not raise for anything the destination does (an exception is
        recorded as ``unreachable``), and must be done within RELAY247_SEND_TIMEOUT."""
        ...

    async def after(self, session: AsyncSession, attempts: Sequence[Attempted]) -> None:
        """The route's own bookkeeping of a batch's outcomes, in the transaction that records
        them (an endpoint failing for days is disabled, say)."""
        ...
