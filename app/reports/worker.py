"""The report worker: runs in every instance; makes the weekly and monthly reports of the
network and of every country once their period has ended, each exactly once.

Every RELAY247_REPORTS_INTERVAL (the first look one interval after start, so a restart does
not rush to the database) it takes the last complete ISO week and calendar month (UTC), finds
which scopes lack their report in one query, and makes each missing one in a transaction of
its own, under the lock of its scope, kind and period (commands.generate_periodic): two
instances looking at once make each report once, and a report that fails (its key file
retired, say) is tried again at the next look without holding back the others, and then
fails the look, which the supervisor counts and /readyz shows."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

from sqlalchemy import select

from app.audit.keys import KeyHolder
from app.core.database import Database
from app.core.observability.redaction import traceback_without_messages
from app.core.supervisor import Heartbeat
from app.models import Country, Report
from app.reports import commands, periods
from app.reports.schemas import NETWORK, ReportKind

log = logging.getLogger(__name__)
PERIODIC = (ReportKind.WEEKLY, ReportKind.MONTHLY)


async def missing(database: Database, today: date) -> list[tuple[str, ReportKind, date, date]]:
    """The periodic reports due by ``today`` that do not exist yet: (scope, kind, start, end)."""
    async with database.transaction() as session:
        scopes = [NETWORK, *await session.scalars(select(Country.code).order_by(Country.code))]
        due = [(kind, *periods.last_complete(kind, today)) for kind in PERIODIC]
        made = {
            (scope, kind, start.date())
            for scope, kind, start in await session.execute(
                select(Report.scope, Report.kind, Report.period_start).where(
                    Report.kind.in_([kind.value for kind in PERIODIC]),
                    Report.period_start.in_([periods.midnight(start) for _, start, _ in due]),
                )
            )
        }
    return [
        (scope, kind, start, end)
        for kind, start, end in due
        for scope in scopes
        if (scope, kind.value, start) not in made
    ]


class ReportsNotMade(Exception):
    """Some due reports could not be made (each is logged): raised once every one was tried,
    so that the supervisor counts the failure (/readyz, /metrics) instead of a log alone."""

    def __init__(self, made: int, failed: int) -> None:
        super().__init__(f"{failed} due reports not made ({made} made)")
        self.made, self.failed = made, failed


async def make_due(database: Database, keys: KeyHolder, today: date | None = None) -> int:
    """Make every periodic report due and missing; the number this call made. Raises
    ReportsNotMade after trying them all when any failed."""
    today = today or datetime.now(UTC).date()
    made = failed = 0
    for scope, kind, start, end in await missing(database, today):
        try:
            async with database.transaction() as session:
                report = await commands.generate_periodic(
                    session, keys, scope=scope, kind=kind, start=start, end=end
                )
        except Exception as exc:  # one report's failure must not hold back the others
            # Class names and frames only, as every log line of the service.
            log.error(
                "%s report of %s from %s not made; tried again at the next look\n%s",
                kind,
                scope,
                start,
                traceback_without_messages(exc),
            )
            failed += 1
            continue
        if report is not None:
            made += 1
            log.info("%s report of %s from %s made: %s", kind, scope, start, report.id)
    if failed:
        raise ReportsNotMade(made, failed)
    return made


class ReportWorker:
    def __init__(self, database: Database, keys: KeyHolder, *, interval: float) -> None:
        self._database = database
        self._keys = keys
        self._interval = interval

    def stall_bound(self) -> float:
        # A look over every country takes a few seconds per country at the most.
        return 2 * self._interval + 600

    async def run(self, beat: Heartbeat) -> None:
        beat()
        while True:
            await asyncio.sleep(self._interval)
            await make_due(self._database, self._keys)
            beat()
