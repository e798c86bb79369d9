"""The sealer: gives committed audit entries their chain positions and hashes, in batches.

Writers insert entries unsealed and never wait for the chain. Every instance runs a sealer
(a supervised loop); one at a time seals, under a transaction-level advisory lock. A round:

1. take the lock (waiting for another instance's round to commit, at most ``lock_timeout``);
2. read up to :data:`BATCH` unsealed entries in id order, with the chain head and the
   database clock, in a statement issued *after* the lock was granted: under READ COMMITTED
   a statement sees what committed before it started, so the head includes the round that
   held the lock before us (read in the same statement as the lock, it would not);
3. hash them in that order, each after the one before, and write position, hash and seal time
   (the one UPDATE the triggers of migration 0009 allow); commit.

The chain's total order is the order of sealing, not of ids. Ids are taken at insert and
commit out of order: an entry with a lower id may become visible after higher ones were
sealed. The work list is "no position yet", not "after the last sealed id", so such an entry
is simply sealed by the next round, after them; nothing committed is ever skipped.

When: this instance's sealer is woken after every local commit that wrote an entry (a signal
in the process, no NOTIFY, no round trip) and seals GATHER_SECONDS later, with whatever
else committed meanwhile; it also looks every
RELAY247_AUDIT_SEAL_INTERVAL for entries written elsewhere (another instance whose sealer is
down, the `relay247` command). Bound: an entry is sealed within one interval plus one round
after it commits (docs/audit-chain.md has the measurement).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.audit.chain import CHAIN_COLUMNS, GENESIS, ChainEntry, next_hash
from app.core.supervisor import Heartbeat

log = logging.getLogger(__name__)

# The sealer's advisory lock (single-key space, like the purge job's; a different key).
SEAL_LOCK = 0x5232_3437_4155_4454  # "R247AUDT"
# Entries per round: hashing them runs on the event loop (about 40 µs each), so a round
# blocks it for about 10 ms at most.
BATCH = 256
# A round waiting longer than this for the lock fails (and the loop restarts, logged): a
# sealer stuck behind a hung one shows in /readyz instead of waiting silently.
LOCK_TIMEOUT = "10s"
# How long a woken sealer waits for more commits before its round. A round is a transaction
# of five statements: woken at once, it could follow nearly every commit of intake; gathered,
# a burst shares one (measured: 0.05 rounds per POST with 8 POSTs in flight), and the bound
# stays well under a second.
GATHER_SECONDS = 0.1

_SET_LOCK_TIMEOUT = text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
# The work list, with the chain head and the database clock on every row (both computed once,
# as uncorrelated subqueries): one round trip. No row: nothing to seal.
_UNSEALED_AND_HEAD = text(
    "WITH head AS ("  # noqa: S608 (CHAIN_COLUMNS is a constant column list)
    "  SELECT chain_position, chain_hash FROM audit_entries WHERE chain_position IS NOT NULL "
    "  ORDER BY chain_position DESC LIMIT 1"
    ") "
    "SELECT (SELECT clock_timestamp()) AS sealing_at, "
    "       (SELECT chain_position FROM head) AS head_position, "
    "       (SELECT chain_hash FROM head) AS head_hash, unsealed.* "
    f"FROM (SELECT {CHAIN_COLUMNS} FROM audit_entries "
    "      WHERE chain_position IS NULL ORDER BY id LIMIT :limit) AS unsealed "
    "ORDER BY unsealed.id"
)
_SEAL = text(
    "UPDATE audit_entries AS a "
    "SET chain_position = s.pos, chain_hash = s.hash, sealed_at = :sealed_at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:positions AS bigint[]), "
    "            CAST(:hashes AS text[])) AS s(entry_id, pos, hash) "
    "WHERE a.id = s.entry_id AND a.chain_position IS NULL"
)


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a round sealed: the positions, and each entry's wait from its transaction's start
    (its ``occurred_at``) to its seal, which bounds its wait after commit from above."""

    first_position: int
    count: int
    waits: Sequence[float]


async def _seal(connection: AsyncConnection, limit: int) -> Sealed | None:
    await connection.execute(_SET_LOCK_TIMEOUT)
    await connection.execute(_LOCK, {"key": SEAL_LOCK})
    rows = (await connection.execute(_UNSEALED_AND_HEAD, {"limit": limit})).all()
    if not rows:
        return None
    entries = [ChainEntry.of(row) for row in rows]
    sealed_at: datetime = rows[0].sealing_at
    position = rows[0].head_position or 0
    previous = bytes.fromhex(rows[0].head_hash) if rows[0].head_hash else GENESIS
    first = position + 1
    ids, positions, hashes = [], [], []
    for entry in entries:
        position += 1
        previous = next_hash(previous, entry.sealed_as(position, sealed_at))
        ids.append(entry.id)
        positions.append(position)
        hashes.append(previous.hex())
    result = await connection.execute(
        _SEAL, {"sealed_at": sealed_at, "ids": ids, "positions": positions, "hashes": hashes}
    )
    if result.rowcount != len(entries):
        # Only a second sealer outside the lock could do this: refuse to commit half a round.
        raise RuntimeError(f"sealed {result.rowcount} of {len(entries)} entries")
    waits = [(sealed_at - entry.occurred_at).total_seconds() for entry in entries]
    return Sealed(first, len(entries), waits)


async def seal_batch(engine: AsyncEngine, *, limit: int = BATCH) -> Sealed | None:
    """One round in one transaction; None when nothing was waiting."""
    async with engine.begin() as connection:
        return await _seal(connection, limit)


class Sealer:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval: float,
        batch: int = BATCH,
        on_sealed: Callable[[Sealed], None] | None = None,
    ) -> None:
        """``engine``: the sealer's own (one connection), not the request pool's."""
        self._engine = engine
        self._interval = interval
        self._batch = batch
        self._on_sealed = on_sealed
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """A transaction of this process wrote entries and committed; must not block."""
        self._woken.set()

    def stall_bound(self) -> float:
        # A round beats; an idle sealer beats every interval. Past this, /readyz says stuck.
        return 4 * self._interval + 30

    async def run(self, beat: Heartbeat) -> None:
        """Supervised loop: seal until nothing waits, then sleep until woken or the interval."""
        beat()
        while True:
            # Cleared before the round: a commit during it wakes the next one at once.
            self._woken.clear()
            while (sealed := await seal_batch(self._engine, limit=self._batch)) is not None:
                if self._on_sealed is not None:
                    self._on_sealed(sealed)
                beat()
                if sealed.count < self._batch:
                    break
            beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=self._interval)
            if self._woken.is_set():
                await asyncio.sleep(GATHER_SECONDS)
