"""The drill worker: runs in every instance; sends each due drill exactly once.

A drill is a row with its due time (drawn when it was scheduled). A worker claims the nearest
due one nobody holds (``FOR UPDATE SKIP LOCKED``), sends it (sending.py) and marks it sent in
the same transaction: two instances never send the same drill, and one that dies mid-way
leaves it unsent and unlocked for another (the unique ``requests.drill_id`` refuses a second
request for a drill besides). A drill that fails to send for any reason but an unavailable
database is put off (``retry_at``, backing off up to five minutes) and logged, so it cannot
hold back the drills due after it. Between rounds it sleeps until the nearest due drill, is woken
by a NOTIFY when one due sooner is scheduled on any instance (scheduling.WAKE_CHANNEL), and
looks again at least every RELAY247_DEADLINE_POLL_INTERVAL in case a wake-up was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable

from sqlalchemy import func, select, update

from app.core.database import Database
from app.core.database.faults import is_unavailable
from app.core.observability.redaction import traceback_without_messages
from app.core.settings import ExchangeSettings
from app.core.supervisor import Heartbeat
from app.drills import sending
from app.models import Drill

log = logging.getLogger(__name__)

_pending = (Drill.fired_at.is_(None), Drill.cancelled_at.is_(None))
# When the worker looks at a pending drill: when due, or when it is tried again (the same
# expression as ix_drills_pending_due).
_next_attempt = func.coalesce(Drill.retry_at, Drill.due_at)
_CLAIM = (
    select(Drill)
    .where(*_pending, _next_attempt <= func.now())
    .order_by(_next_attempt)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_NEAREST = select(func.extract("epoch", func.min(_next_attempt) - func.clock_timestamp())).where(
    *_pending
)
_MAX_RETRY_SECONDS = 300
_MAX_FAILURES = 32767  # failures is a SMALLINT
# 1, 2, 4 ... seconds, at most five minutes (the exponent capped before power(), as the
# deadline worker's: 2 ** 1024 overflows a double).
_RETRY_DELAY = func.make_interval(
    0, 0, 0, 0, 0, 0, func.least(func.power(2, func.least(Drill.failures, 9)), _MAX_RETRY_SECONDS)
)
# Due, but held by another instance sending it: look again soon, to take over if it dies.
_RETRY_HELD = 0.05
_TIMER_SLACK = 0.002


async def send_due(
    database: Database,
    exchange: ExchangeSettings,
    on_failure: Callable[[], None] = lambda: None,
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Claim the nearest due drill nobody holds and send it, in one transaction: (drill id,
    request id), or None when none is due. An error rolls it back, unsent; one that is not
    the database's being unavailable puts the drill off (and is raised again otherwise)."""
    claimed: list[uuid.UUID] = []
    try:
        async with database.transaction() as session:
            drill = await session.scalar(_CLAIM)
            if drill is None:
                return None
            claimed.append(drill.id)
            request = await sending.send(session, drill, exchange=exchange)
            return drill.id, request.id
    except Exception as exc:
        if not claimed or is_unavailable(exc):
            raise  # the supervisor restarts the loop: nothing is wrong with the drill
        await _put_off(database, claimed[0], exc)
        on_failure()
        return None


async def _put_off(database: Database, drill_id: uuid.UUID, error: Exception) -> None:
    async with database.transaction() as session:
        failures, retry_at = (
            await session.execute(
                update(Drill)
                .where(Drill.id == drill_id)
                .values(
                    failures=func.least(Drill.failures, _MAX_FAILURES - 1) + 1,
                    retry_at=func.now() + _RETRY_DELAY,
                )
                .returning(Drill.failures, Drill.retry_at)
            )
        ).one()
    # Class names and frames only, as every log line of the service.
    log.error(
        "drill %s failed to send (%d failures); next attempt at %s\n%s",
        drill_id,
        failures,
        retry_at,
        traceback_without_messages(error),
    )


class DrillWorker:
    def __init__(
        self,
        database: Database,
        exchange: ExchangeSettings,
        *,
        on_sent: Callable[[], None] = lambda: None,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._database = database
        self._exchange = exchange
        self._on_sent = on_sent
        self._on_failure = on_failure
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
            send = functools.partial(send_due, self._database, self._exchange, self._on_failure)
            while (sent := await send()) is not None:
                log.info("drill %s sent as request %s", *sent)
                self._on_sent()
                beat()
            # A drill put off just now is found by the look below, at its retry time.
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
