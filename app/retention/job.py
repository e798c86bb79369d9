"""The purge job: a supervised loop in every instance, of which one at a time does the work.

Every RELAY247_PURGE_INTERVAL each instance tries to take one transaction-level advisory lock;
the instance that gets it purges a batch and commits (which releases it), and carries on with
the next batch in a new transaction while batches come back full. An instance that finds the
lock taken skips its round: another one is purging. The first round waits one interval, so a
restarting instance does not purge on its way up.

Each round also purges shared data (STIX objects past their purge_after: app/sharing/
retention.py), and deletes the Idempotency-Keys past RELAY247_IDEMPOTENCY_KEY_LIFETIME (which
are no longer honoured anyway), in batches under the same lock.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select

from app.core.database import Database
from app.core.supervisor import Heartbeat
from app.exchange.files.storage import BlobStore
from app.requests import idempotency
from app.retention.purge import PurgeReport, purge_due
from app.sharing import retention as shared_retention
from app.sharing.retention import SharedPurgeReport

log = logging.getLogger(__name__)

# The one advisory lock of the purge job (single-key space: distinct from the key locks of
# purge.py, which use the two-key form).
PURGE_LOCK = 0x5232_3437_5055_5247  # "R247PURG"
# Requests per transaction: each holds its requests' row locks and, for its events, the
# counters of their channels, until it commits.
BATCH = 100
# Expired Idempotency-Keys deleted per transaction: small rows, no other work.
KEY_BATCH = 5000


async def purge_batch(
    database: Database, store: BlobStore, *, limit: int = BATCH
) -> PurgeReport | None:
    """One batch in one transaction, if no other instance is purging (else None)."""
    async with database.transaction() as session:
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(PURGE_LOCK))):
            return None
        return await purge_due(session, store, limit=limit, dry_run=False)


async def purge_shared_batch(
    database: Database, *, limit: int = shared_retention.BATCH
) -> SharedPurgeReport | None:
    """One batch of shared data (STIX objects past purge_after) in one transaction, if no
    other instance is purging (else None)."""
    async with database.transaction() as session:
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(PURGE_LOCK))):
            return None
        return await shared_retention.purge_due_objects(session, limit=limit)


async def sweep_batch(
    database: Database, *, lifetime: timedelta, limit: int = KEY_BATCH
) -> int | None:
    """Delete one batch of expired Idempotency-Keys, if no other instance is purging (else
    None); how many went."""
    async with database.transaction() as session:
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(PURGE_LOCK))):
            return None
        return await idempotency.sweep(session, lifetime=lifetime, limit=limit)


async def run(
    beat: Heartbeat,
    *,
    database: Database,
    store: BlobStore,
    interval: float,
    idempotency_lifetime: timedelta,
) -> None:
    """Supervised loop: a round every ``interval`` seconds."""
    beat()
    while True:
        await asyncio.sleep(interval)
        while (swept := await sweep_batch(database, lifetime=idempotency_lifetime)) is not None:
            beat()
            if swept < KEY_BATCH:
                break
        while (report := await purge_batch(database, store)) is not None:
            beat()
            if report.requests:
                # Counts only: what was purged is in the audit trail, never in a log.
                log.info(
                    "purged %d requests (%d messages, %d files) at the end of their retention",
                    len(report.requests),
                    report.messages,
                    report.files,
                )
            if len(report.requests) < BATCH:
                break
        while (shared := await purge_shared_batch(database)) is not None:
            beat()
            if shared.objects:
                log.info(
                    "purged %d shared objects (%d indicator values, %d matches) at the end "
                    "of their retention",
                    shared.objects,
                    shared.indicator_values,
                    shared.matches,
                )
            if shared.objects < shared_retention.BATCH:
                break
        beat()
