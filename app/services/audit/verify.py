"""Checking the hash chain: every sealed entry, in position order, against the hash before it.

:class:`ChainWalk` takes entries one at a time (constant memory, any source: the live table
here, an export later) and stops at the first fault, which it explains as far as the entries
around it allow: an entry changed after sealing, a stored hash edited, entries out of order,
a position missing. :func:`verify_database` streams the live table through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.services.audit.chain import CHAIN_COLUMNS, GENESIS, ChainEntry, next_hash

# Rows fetched per round trip while streaming the table.
_PREFETCH = 2000


@dataclass(frozen=True, slots=True)
class Fault:
    """The first place the chain does not hold, and why."""

    position: int
    entry_id: int | None  # None: no entry holds the position
    reason: str

    def __str__(self) -> str:
        where = f"position {self.position}" + (
            f" (entry id {self.entry_id})" if self.entry_id is not None else ""
        )
        return f"{where}: {self.reason}"


def _stored(entry: ChainEntry) -> bytes | None:
    try:
        return bytes.fromhex(entry.chain_hash or "")
    except ValueError:
        return None


def _sealing_order(entry: ChainEntry) -> tuple[datetime, int]:
    # A round seals in id order at one time, and rounds follow each other: along the chain,
    # (sealed_at, id) only grows. Used to explain a fault, never to find one.
    assert entry.sealed_at is not None
    return entry.sealed_at, entry.id


class ChainWalk:
    """Feed sealed entries in position order; :meth:`feed` and :meth:`finish` return the
    first fault (and nothing more is checked after it)."""

    def __init__(self, *, previous_hash: bytes = GENESIS, first_position: int = 1) -> None:
        self.previous_hash = previous_hash
        self.next_position = first_position
        self.checked = 0
        self.fault: Fault | None = None
        self._pending: ChainEntry | None = None  # fed, checked once the one after it is known
        self._last_good: ChainEntry | None = None

    def feed(self, entry: ChainEntry) -> Fault | None:
        if self.fault is None and self._pending is not None:
            self.fault = self._check(self._pending, entry)
        self._pending = entry
        return self.fault

    def finish(self) -> Fault | None:
        if self.fault is None and self._pending is not None:
            self.fault = self._check(self._pending, None)
        self._pending = None
        return self.fault

    def _check(self, entry: ChainEntry, following: ChainEntry | None) -> Fault | None:
        position = entry.chain_position
        assert position is not None
        if position > self.next_position:
            gap = position - self.next_position
            return Fault(
                self.next_position,
                None,
                f"missing: no entry holds this position ({gap} position"
                f"{'s' if gap > 1 else ''} up to {position - 1} missing): deleted",
            )
        if position < self.next_position:
            return Fault(position, entry.id, f"position {position} is held twice")
        computed = next_hash(self.previous_hash, entry)
        if computed == _stored(entry):
            self.previous_hash = computed
            self.next_position += 1
            self.checked += 1
            self._last_good = entry
            return None
        return Fault(position, entry.id, self._why(entry, computed, following))

    def _why(self, entry: ChainEntry, computed: bytes, following: ChainEntry | None) -> str:
        stored = _stored(entry)
        if stored is None or len(stored) != hashlib.sha256().digest_size:
            return "its stored hash is not a SHA-256 in hex"
        if following is not None and following.chain_position == entry.chain_position + 1:  # type: ignore[operator]
            if next_hash(stored, following) == _stored(following):
                return (
                    "changed after sealing: its content does not give its stored hash, "
                    "from which the next entry still chains"
                )
            if next_hash(computed, following) == _stored(following):
                return (
                    "its stored hash was edited: the next entry chains from the hash its "
                    "content gives"
                )
            if _sealing_order(entry) > _sealing_order(following):
                return (
                    f"out of order: sealed after entry id {following.id}, which follows it "
                    "(positions exchanged or moved)"
                )
        last = self._last_good
        if last is not None and _sealing_order(entry) < _sealing_order(last):
            return (
                f"out of order: sealed before entry id {last.id}, which precedes it "
                "(positions exchanged or moved)"
            )
        return (
            "its hash does not follow from its content and the hash before it "
            "(its content, its hash or the order was changed)"
        )


@dataclass(frozen=True, slots=True)
class DatabaseReport:
    sealed: int  # entries with a position, as the table says
    checked: int  # of them, verified in order before the first fault (all when none)
    head_position: int
    head_hash: str | None
    unsealed: int
    oldest_unsealed_at: datetime | None
    fault: Fault | None


_COUNTS = (
    "SELECT count(chain_position) AS sealed, count(*) - count(chain_position) AS unsealed, "
    "min(occurred_at) FILTER (WHERE chain_position IS NULL) AS oldest_unsealed_at "
    "FROM audit_entries"
)
_CHAIN = (
    f"SELECT {CHAIN_COLUMNS} FROM audit_entries "  # noqa: S608 (a constant column list)
    "WHERE chain_position IS NOT NULL ORDER BY chain_position"
)


async def verify_database(
    connection: asyncpg.Connection,
    *,
    progress: Callable[[int, int], None] | None = None,
    every: int = 1000,
) -> DatabaseReport:
    """Walk the live table in position order, in one read-only snapshot, streamed through a
    cursor (constant memory whatever the size). ``progress(read, total)`` is called before
    the first entry and every ``every`` entries, then once at the end."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        counts = await connection.fetchrow(_COUNTS)
        total = counts["sealed"]
        walk = ChainWalk()
        read = 0
        if progress is not None:
            progress(0, total)
        async for record in connection.cursor(_CHAIN, prefetch=_PREFETCH):
            read += 1
            if progress is not None and read % every == 0:
                progress(read, total)
            if walk.feed(ChainEntry.of(record)) is not None:
                break
        fault = walk.finish()
    if progress is not None:
        progress(read, total)
    return DatabaseReport(
        sealed=counts["sealed"],
        checked=walk.checked,
        head_position=walk.next_position - 1,
        head_hash=walk.previous_hash.hex() if walk.checked else None,
        unsealed=counts["unsealed"],
        oldest_unsealed_at=counts["oldest_unsealed_at"],
        fault=fault,
    )
