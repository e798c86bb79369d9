"""The sender: a supervised loop on every instance that leases due messages, sends each
through its route's courier, and records how each attempt went.

Sends run side by side (RELAY247_OUTBOX_CONCURRENCY of them), each bounded by
RELAY247_SEND_TIMEOUT, and no destination gets more than RELAY247_OUTBOX_PER_DESTINATION of
them (store.lease), so a slow or dead one costs the others nothing: a send still waiting after
_SLOW_AFTER stops counting against the instance's places (its destination's share still
bounds it), so that dead destinations, however many, never leave the live ones fewer places.
Outcomes are recorded in batches, as sends finish, in the same transaction as the next lease.
The loop looks for work when this instance commits messages (the local SIGNAL), when a send
finishes or turns slow and frees a place, when the nearest retry is due, and at least every
RELAY247_OUTBOX_POLL_INTERVAL (messages another instance wrote).

If the loop fails or the instance dies, the sends in flight are abandoned: their leases run
out and the messages are taken again, by this instance after its restart or by another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database
from app.core.observability.metrics import Metrics
from app.core.observability.redaction import traceback_without_messages
from app.core.settings import OutboxSettings
from app.core.supervisor import Heartbeat
from app.models.outbox import Route
from app.outbox import store
from app.outbox.couriers import INVALID, TIMEOUT, UNREACHABLE, Attempted, Courier, Leased, Outcome
from app.outbox.schedule import next_delay

log = logging.getLogger(__name__)

# Timers may wake a hair early; the lease compares with the database clock.
_TIMER_SLACK = 0.002
# How soon to look again at a message due but not leased (held by another sender, or its
# destination has its share in flight elsewhere) when nothing of ours is in flight.
_RETRY_HELD = 0.05
_NO_DISK_WAIT = text("SET LOCAL synchronous_commit = off")
# A healthy destination answers well within this; a send still waiting after it frees its place
# for others (see the module's docstring).
_SLOW_AFTER = 1.0
# How often the backlog (queued, how late) is counted for /metrics and /readyz.
_BACKLOG_EVERY = 5.0


class Sender:
    def __init__(
        self,
        database: Database,
        couriers: Mapping[Route, Courier],
        settings: OutboxSettings,
        metrics: Metrics,
    ) -> None:
        self._database = database
        self._couriers = couriers
        self._settings = settings
        self._metrics = metrics
        self._woken = asyncio.Event()
        # Each send in flight, and when it started (monotonic).
        self._in_flight: dict[asyncio.Task[None], float] = {}
        self._done: list[Attempted] = []
        self._backlog = store.Backlog(queued={}, oldest_due_seconds=0.0)
        self._backlog_read_at = 0.0

    def wake(self) -> None:
        """Messages were committed here; must not block."""
        self._woken.set()

    def stall_bound(self) -> float:
        return 4 * self._settings.outbox_poll_interval.total_seconds() + 30

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def snapshot(self) -> dict[str, Any]:
        """What /readyz shows of the outbox."""
        return {
            "queued": dict(self._backlog.queued),
            "in_flight": len(self._in_flight),
            "oldest_due_seconds": round(self._backlog.oldest_due_seconds, 3),
        }

    async def run(self, beat: Heartbeat) -> None:
        beat()
        poll = self._settings.outbox_poll_interval.total_seconds()
        try:
            while True:
                self._woken.clear()
                room = self._room()
                leased, destinations = await self._round(room)
                self._start(leased, destinations)
                await self._count_backlog()
                beat()
                # A finishing send wakes the loop, and so does a commit of messages here.
                if not self._in_flight or len(leased) < room:
                    wait = await self._until_nearest(poll)
                else:
                    wait = min(poll, self._until_one_slows())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), timeout=wait)
        finally:
            for task in self._in_flight:
                task.cancel()
            self._in_flight.clear()

    def _room(self) -> int:
        """How many more sends may start: the concurrency less the sends not yet slow, within
        the ceiling on all of them."""
        concurrency = self._settings.outbox_concurrency
        slow_since = time.monotonic() - _SLOW_AFTER
        busy = sum(1 for started in self._in_flight.values() if started > slow_since)
        ceiling = self._settings.most_sends_at_once - len(self._in_flight)
        return max(min(concurrency - busy, ceiling), 0)

    def _until_one_slows(self) -> float:
        """Seconds until the oldest send that still holds a place turns slow and frees it."""
        now = time.monotonic()
        holding = [started for started in self._in_flight.values() if started > now - _SLOW_AFTER]
        if not holding:  # every place is free again, or the ceiling holds: look as usual
            return self._settings.outbox_poll_interval.total_seconds()
        return min(holding) + _SLOW_AFTER - now + _TIMER_SLACK

    async def _round(self, room: int) -> tuple[list[Leased], dict[Route, Mapping[Any, Any]]]:
        """One transaction, one commit: record what finished since the last round, lease up
        to ``room`` due messages, and load their destinations. (A round per finished send
        is what bounds the rate to one slow destination: the fewer commits, the better.)"""
        done, self._done = self._done, []
        try:
            async with self._database.transaction() as session:
                # Nothing a round writes needs to survive a crash of Postgres itself: a lease or
                # an outcome lost with the last WAL flush means the message is sent again,
                # which at-least-once allows (the message itself was committed durably by the
                # transaction that caused it). So a round does not wait for the disk.
                await session.execute(_NO_DISK_WAIT)
                decisions = await self._record(session, done) if done else []
                leased: list[Leased] = []
                if room > 0:
                    leased = await store.lease(
                        await session.connection(),
                        routes=list(self._couriers),
                        limit=room,
                        per_destination=self._settings.outbox_per_destination,
                        lease_for=self._settings.outbox_lease,
                    )
                destinations = await self._destinations(session, leased)
        except BaseException:
            # Not recorded: kept for the next round (the restarted loop's leases run out and
            # the messages are sent again, which at least once allows).
            self._done[:0] = done
            raise
        self._count(decisions)
        return leased, destinations

    async def _until_nearest(self, poll: float) -> float:
        """Until the nearest message is due (or its lease runs out). One due already was not
        leased: its destination has its share in flight, or another sender holds it. A send
        of ours finishing wakes the loop; else look again shortly."""
        async with self._database.engine.connect() as connection:
            nearest = await store.seconds_to_nearest(connection, list(self._couriers))
        if nearest is None:
            return poll
        if nearest <= 0:
            return poll if self._in_flight else _RETRY_HELD
        return min(nearest + _TIMER_SLACK, poll)

    async def _destinations(
        self, session: AsyncSession, leased: Sequence[Leased]
    ) -> dict[Route, Mapping[Any, Any]]:
        """Each route's destinations of the batch, loaded at once."""
        wanted: defaultdict[Route, set[Any]] = defaultdict(set)
        for message in leased:
            wanted[message.route].add(message.destination_id)
        return {
            route: await self._couriers[route].destinations(session, ids)
            for route, ids in wanted.items()
        }

    def _start(
        self, leased: Sequence[Leased], destinations: Mapping[Route, Mapping[Any, Any]]
    ) -> None:
        for message in leased:
            destination = destinations[message.route].get(message.destination_id)
            task = asyncio.create_task(self._attempt(message, destination))
            self._in_flight[task] = time.monotonic()
            task.add_done_callback(self._forget)
        if leased:
            self._metrics.outbox_in_flight.set(len(self._in_flight))

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)

    async def _attempt(self, message: Leased, destination: Any) -> None:
        started_at = datetime.now(UTC)
        began = time.perf_counter()
        if destination is None:
            outcome = Outcome(INVALID, response="the destination is disabled or gone", final=True)
        else:
            outcome = await self._send(message, destination)
        duration = time.perf_counter() - began
        self._metrics.outbox_attempt_duration.labels(message.route.value).observe(duration)
        self._done.append(Attempted(message, outcome, started_at, round(duration * 1000)))
        self._woken.set()

    async def _send(self, message: Leased, destination: Any) -> Outcome:
        courier = self._couriers[message.route]
        try:
            async with asyncio.timeout(self._settings.send_timeout.total_seconds()):
                return await courier.send(message, destination)
        except TimeoutError:
            return Outcome(TIMEOUT)
        except Exception as exc:
            # Class names and frames only: an exception's message may quote the destination's
            # answer or our payload.
            log.warning(
                "outbox: %s message %s: the courier failed\n%s",
                message.route.value,
                message.id,
                traceback_without_messages(exc),
            )
            return Outcome(UNREACHABLE, response=type(exc).__name__)

    async def _record(
        self, session: AsyncSession, done: Sequence[Attempted]
    ) -> list[store.Decision]:
        jitter = self._settings.retry_jitter
        decisions = [
            store.Decision(
                a,
                None
                if a.outcome.delivered
                else next_delay(
                    self._couriers[a.message.route].schedule,
                    a.message.attempt,
                    a.outcome,
                    jitter=jitter,
                ),
            )
            for a in done
        ]
        by_route: defaultdict[Route, list[Attempted]] = defaultdict(list)
        for attempted in done:
            by_route[attempted.message.route].append(attempted)
        await store.record(session, decisions)
        for route, attempts in by_route.items():
            await self._couriers[route].after(session, attempts)
        return decisions

    def _count(self, decisions: Sequence[store.Decision]) -> None:
        now = datetime.now(UTC)
        metrics = self._metrics
        for decision in decisions:
            attempted = decision.attempted
            route = attempted.message.route.value
            metrics.outbox_attempts.labels(route, attempted.outcome.outcome).inc()
            if attempted.outcome.delivered:
                metrics.outbox_sent.labels(route).inc()
                lag = (now - attempted.message.created_at).total_seconds()
                metrics.outbox_delivery_lag.labels(route).observe(max(lag, 0.0))
            elif decision.retry_in is None and attempted.outcome.outcome != "moot":
                metrics.outbox_failed.labels(route).inc()
        metrics.outbox_in_flight.set(len(self._in_flight))

    async def _count_backlog(self) -> None:
        now = time.monotonic()
        if now - self._backlog_read_at < _BACKLOG_EVERY:
            return
        self._backlog_read_at = now
        async with self._database.engine.connect() as connection:
            self._backlog = await store.backlog(connection)
        for route in Route:
            self._metrics.outbox_queued.labels(route.value).set(
                self._backlog.queued.get(route.value, 0)
            )
        self._metrics.outbox_oldest_due.set(self._backlog.oldest_due_seconds)


__all__ = ["UNREACHABLE", "Sender"]
