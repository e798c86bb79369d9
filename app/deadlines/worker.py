"""The deadline worker: runs in every instance; fires each due deadline exactly once.

Deadlines are rows (app/models/deadline.py), written in the transaction that makes them due
(submit writes the first ack deadline with the request). A worker claims a batch of the
nearest due ones with their requests' row locks (``FOR UPDATE ... SKIP LOCKED``), fires them
(firing.py) and commits: two instances never fire the same deadline, an ack (which takes the
same row lock and cancels the pending deadlines) is either before the firing or after it, and
the claims of an instance that dies are released with its connections and taken by another.

A batch that fails for any reason but an unavailable database is fired again one deadline a
transaction; one that fails alone is put off (``retry_at``, backing off up to
five minutes) and logged, so it cannot hold back the deadlines due after it.

Between rounds a worker sleeps until the nearest pending deadline (the database clock says
how far it is), is woken by a NOTIFY when a nearer one is written on any instance
(rows.WAKE_CHANNEL, on the events' notifier), and looks again at least every
RELAY247_DEADLINE_POLL_INTERVAL in case a wake-up was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select, update

from app.approvals import expiry as approval_expiry
from app.core.database import Database
from app.core.database.faults import is_unavailable
from app.core.observability.redaction import traceback_without_messages
from app.core.supervisor import Heartbeat
from app.deadlines.firing import Fired, fire_claimed
from app.models import CooperationRequest, RequestDeadline

log = logging.getLogger(__name__)

# How soon to look again when the nearest deadline is due but held by another transaction (an
# instance firing it, or an ack): if that instance dies, this one takes the deadline over.
_RETRY_HELD = 0.05
# Timers may wake a hair early; the claim compares with the database clock.
_TIMER_SLACK = 0.002
# A deadline that failed alone is tried again after 1, 2, 4... seconds, at most this long.
_MAX_RETRY_SECONDS = 300
_MAX_FAILURES = 32767  # failures is a SMALLINT

# Deadlines fired per transaction. A batch's firings share their reads (policies, rosters),
# their writes (a few statements whatever its size) and one commit: fired one a transaction,
# a burst due together went at the pace of one commit after the other (about 170/s here,
# make bench --only deadlines).
CLAIM_BATCH = 32

_pending = (RequestDeadline.fired_at.is_(None), RequestDeadline.cancelled_at.is_(None))
_next_attempt = RequestDeadline.next_attempt()


Claim = Select[RequestDeadline, CooperationRequest, datetime]


def _claim(*criteria: ColumnElement[bool], limit: int) -> Claim:
    """The nearest due deadlines that nobody holds, with their requests' row locks: the lock
    an ack takes too, so the two never interleave."""
    return (
        select(RequestDeadline, CooperationRequest, func.now())
        .join(CooperationRequest, CooperationRequest.id == RequestDeadline.request_id)
        .where(*_pending, _next_attempt <= func.now(), *criteria)
        .order_by(_next_attempt)
        .limit(limit)
        .with_for_update(of=(RequestDeadline, CooperationRequest), skip_locked=True)
    )


_CLAIM_BATCH = _claim(limit=CLAIM_BATCH)
# The nearest of the request deadlines and the four-eyes expiries (app/approvals/expiry.py),
# which the workers fire too; least() skips whichever has none.
_NEAREST = select(
    func.extract(
        "epoch",
        func.least(
            select(func.min(_next_attempt)).where(*_pending).scalar_subquery(),
            approval_expiry.NEAREST,
        )
        - func.clock_timestamp(),
    )
)
# 1, 2, 4 ... seconds, at most _MAX_RETRY_SECONDS. The exponent is capped before power():
# 2 ** 1024 overflows a double, and a deadline failing for days would then fail to be put
# off, stalling its batch again; 2 ** 9 is already past the cap.
_RETRY_SECONDS = func.least(
    func.power(2, func.least(RequestDeadline.failures, 9)), _MAX_RETRY_SECONDS
)
_RETRY_DELAY = func.make_interval(0, 0, 0, 0, 0, 0, _RETRY_SECONDS)  # (years, ..., secs)


async def _claim_and_fire(
    database: Database, claim: Claim, claimed_ids: list[int], poll_interval: timedelta
) -> list[Fired] | None:
    """Claim with ``claim`` and fire what it got in one transaction (None: it got nothing).
    ``claimed_ids`` gets the ids claimed, for the caller to retry them if the firing fails."""
    async with database.transaction() as session:
        claimed = (await session.execute(claim)).all()
        if not claimed:
            return None
        claimed_ids += [deadline.id for deadline, _, _ in claimed]
        now = claimed[0][2]
        return await fire_claimed(session, [(d, r) for d, r, _ in claimed], now, poll_interval)


async def fire_due(
    database: Database,
    poll_interval: timedelta,
    on_failure: Callable[[], None] = lambda: None,
) -> list[Fired] | None:
    """Claim up to CLAIM_BATCH due deadlines nobody holds and fire them in one transaction;
    None when none was due. A batch that fails is fired again one deadline at a time, and
    one that fails alone is put off (``on_failure`` is called for each). ``poll_interval``:
    the workers' safety-net look, which finds the next deadlines due after it unwoken."""
    claimed_ids: list[int] = []
    try:
        return await _claim_and_fire(database, _CLAIM_BATCH, claimed_ids, poll_interval)
    except Exception as exc:
        if not claimed_ids or is_unavailable(exc):
            raise  # the supervisor restarts the loop: nothing is wrong with the deadlines
    fired: list[Fired] = []
    for deadline_id in claimed_ids:
        try:
            one = _claim(RequestDeadline.id == deadline_id, limit=1)
            fired += await _claim_and_fire(database, one, [], poll_interval) or []
        except Exception as exc:
            if is_unavailable(exc):
                raise
            await _put_off(database, deadline_id, exc)
            on_failure()
    return fired


async def _put_off(database: Database, deadline_id: int, error: Exception) -> None:
    async with database.transaction() as session:
        found = (
            await session.execute(
                update(RequestDeadline)
                .where(RequestDeadline.id == deadline_id, *_pending)
                .values(
                    # Counted up to the column's limit, not past it (an error there would
                    # stall the batch as surely as the failure itself).
                    failures=func.least(RequestDeadline.failures, _MAX_FAILURES - 1) + 1,
                    retry_at=func.now() + _RETRY_DELAY,
                )
                .returning(
                    RequestDeadline.kind,
                    RequestDeadline.step,
                    RequestDeadline.request_id,
                    RequestDeadline.failures,
                    RequestDeadline.retry_at,
                )
            )
        ).one_or_none()
    if found is None:
        return
    kind, step, request_id, failures, retry_at = found
    # Class names and frames only: an exception's message may quote a request's content.
    log.error(
        "deadline %d (%s step %d of request %s) failed to fire (%d failures); next attempt at "
        "%s\n%s",
        deadline_id,
        kind.value,
        step,
        request_id,
        failures,
        retry_at,
        traceback_without_messages(error),
    )


async def seconds_to_nearest(database: Database) -> float | None:
    """How long until the nearest pending deadline (negative: due already); None: none."""
    async with database.engine.connect() as connection:
        found = await connection.scalar(_NEAREST)
    return float(found) if found is not None else None


class DeadlineWorker:
    def __init__(
        self,
        database: Database,
        *,
        poll_interval: float,
        concurrency: int = 1,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._database = database
        self._on_failure = on_failure
        self._poll_interval = poll_interval
        self._concurrency = concurrency
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """A nearer deadline was written (here or on another instance); must not block."""
        self._woken.set()

    def stall_bound(self) -> float:
        return 4 * self._poll_interval + 30

    async def _fire_due(self, beat: Heartbeat) -> None:
        poll_interval = timedelta(seconds=self._poll_interval)
        fire = functools.partial(fire_due, self._database, poll_interval, self._on_failure)
        while (batch := await fire()) is not None:
            for fired in batch:
                log.info(
                    "deadline fired: %s %s step %d of request %s",
                    fired.kind.value,
                    fired.outcome,
                    fired.step,
                    fired.request_id,
                )
            beat()
        # Four-eyes approvals whose time ran out: expired here like any deadline.
        while await approval_expiry.expire_due(self._database):
            beat()

    async def run(self, beat: Heartbeat) -> None:
        """Supervised loop: fire what is due, then sleep until the nearest deadline."""
        beat()
        while True:
            self._woken.clear()
            # Several claimers at once: SKIP LOCKED gives each its own deadline, so a burst
            # due together is worked off in parallel; any error ends them all (and the
            # supervisor restarts the loop).
            async with asyncio.TaskGroup() as claimers:
                for _ in range(self._concurrency):
                    claimers.create_task(self._fire_due(beat))
            nearest = await seconds_to_nearest(self._database)
            if nearest is None:
                wait = self._poll_interval
            elif nearest <= 0:
                wait = _RETRY_HELD  # due, but held by another transaction
            else:
                wait = min(nearest + _TIMER_SLACK, self._poll_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=wait)
            beat()
