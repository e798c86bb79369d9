"""The drill worker: runs in every instance; sends each due drill exactly once.

A drill is a row with its due time (drawn when it was scheduled). A worker claims the nearest
due one nobody holds (``FOR UPDATE SKIP LOCKED``), sends it (sending.py) and marks it sent in
the same transaction: two instances never send the same drill, and one that dies mid-way
leaves it unsent and unlocked for another (the unique ``requests.drill_id`` refuses a second
request for a drill besides). Between rounds it sleeps until the nearest due drill, is woken
by a NOTIFY when one due sooner is scheduled on any instance (scheduling.WAKE_CHANNEL), and
looks again at least every RELAY247_DEADLINE_POLL_INTERVAL in case a wake-up was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from sqlalchemy import func, select

from app.core.database import Database
from app.core.settings import ExchangeSettings
from app.core.supervisor import Heartbeat
from app.drills import sending
from app.models import Drill

log = logging.getLogger(__name__)

_pending = (Drill.fired_at.is_(None), Drill.cancelled_at.is_(None))
_CLAIM = (
    select(Drill)
    .where(*_pending, Drill.due_at <= func.now())
    .order_by(Drill.due_at)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_NEAREST = select(func.extract("epoch", func.min(Drill.due_at) - func.clock_timestamp())).where(
    *_pending
)
# Due, but held by another instance sending it: look again soon, to take over if it dies.
_RETRY_HELD = 0.05
_TIMER_SLACK = 0.002


async def send_due(
    database: Database, exchange: ExchangeSettings
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Claim the nearest due drill nobody holds and send it, in one transaction: (drill id,
    request id), or None when none is due. An error rolls it back, unsent."""
    async with database.transaction() as session:
        drill = await session.scalar(_CLAIM)
        if drill is None:
            return None
        request = await sending.send(session, drill, exchange=exchange)
        return drill.id, request.id


class DrillWorker:
    def __init__(self, database: Database, exchange: ExchangeSettings) -> None:
        self._database = database
        self._exchange = exchange
        self._poll_interval = exchange.deadline_poll_interval.total_seconds()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """A drill due sooner was scheduled (here or on another instance); must not block."""
        self._woken.set()

    def stall_bound(self) -> float:
        return 4 * self._poll_interval + 30

    async def run(self, beat: Heartbeat) -> None:
        """Supervised loop: send what is due, then sleep until the nearest drill."""
        beat()
        while True:
            self._woken.clear()
            while (sent := await send_due(self._database, self._exchange)) is not None:
                log.info("drill %s sent as request %s", *sent)
                beat()
            async with self._database.engine.connect() as connection:
                nearest = await connection.scalar(_NEAREST)
            if nearest is None:
                wait = self._poll_interval
            elif nearest <= 0:
                wait = _RETRY_HELD
            else:
                wait = min(float(nearest) + _TIMER_SLACK, self._poll_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=wait)
            beat()
