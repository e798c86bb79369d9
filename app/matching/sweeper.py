"""The match sweep: a supervised loop in every instance, of which one at a time does the work.

A request and a bundle whose transactions overlap can each miss the other (app/matching/
found.py says how). Every RELAY247_MATCH_SWEEP_INTERVAL, the instance that takes the sweep's
advisory lock matches the open requests created within the window against the whole store:
pairs already matched are left alone (the key of request_matches), and only new ones are told
to their requesters. The window is four intervals and at least two minutes, so a request is
swept several times after it commits, and a bundle's transaction (well under a minute: ten
thousand objects take about a second) ends long before its requests leave the window.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select

from app.core.database import Database
from app.core.supervisor import Heartbeat
from app.matching.found import sweep_recent

log = logging.getLogger(__name__)

# The one advisory lock of the sweep (single-key space, like the purge job's).
SWEEP_LOCK = 0x5232_3437_4D41_5443  # "R247MATC"


def window(interval: float) -> timedelta:
    return max(timedelta(minutes=2), 4 * timedelta(seconds=interval))


async def sweep_once(database: Database, *, within: timedelta) -> int | None:
    """One sweep in one transaction, if no other instance is sweeping (else None); how many
    matches it found."""
    async with database.transaction() as session:
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(SWEEP_LOCK))):
            return None
        since = await session.scalar(select(func.now() - within))
        assert since is not None
        return await sweep_recent(session, since)


async def run(beat: Heartbeat, *, database: Database, interval: float) -> None:
    """Supervised loop: a sweep every ``interval`` seconds."""
    beat()
    while True:
        await asyncio.sleep(interval)
        found = await sweep_once(database, within=window(interval))
        if found:
            # Counts only, as every log of shared data.
            log.info("the match sweep found %d matches a race had let pass", found)
        beat()
