"""Checking the hash chain: every sealed entry, in position order, against the hash before it;
then every signed checkpoint against the chain.

:class:`ChainWalk` takes entries one at a time (constant memory, any source: the live table
here, an export later) and stops at the first fault, which it explains as far as the entries
around it allow: an entry changed after sealing, a stored hash edited, entries out of order,
a position missing. :func:`verify_database` streams the live table through it, then the
checkpoint rows through :func:`checkpoint_fault`; :func:`verify_checkpoint_lines` does the
same for checkpoints kept outside the database.

A walk that holds proves the chain is consistent, not that it is the chain that was written:
a superuser may have rewritten it and recomputed every hash, or cut its tail. A checkpoint
signed before that, with a key published before that, names a hash the chain no longer has
at its position, or a position the chain no longer reaches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.audit.chain import (
    CHAIN_COLUMNS,
    GENESIS,
    LEGACY_FORMAT,
    ChainEntry,
    linked_hash,
    next_hash,
    utc_timestamp,
)
from app.audit.checkpoints import Checkpoint
from app.audit.keys import PublishedKey, key_id_of

# Rows fetched per round trip while streaming the table.
_PREFETCH = 2000


@dataclass(frozen=True, slots=True)
class Fault:
    """The first place the chain does not hold, and why."""

    position: int
    entry_id: int | None  # None: no entry holds the position
    reason: str
    line: int | None = None  # in an export file: the line of the entry or link at fault

    def __str__(self) -> str:
        where = f"position {self.position}" + (
            f" (entry id {self.entry_id})" if self.entry_id is not None else ""
        )
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ExportedEntry:
    """A sealed entry as an export shows it: its canonical bytes (rebuilt from the members of
    its line), its stored hash and what explains a fault (id, seal time)."""

    id: int
    chain_position: int
    chain_hash: str
    sealed_at: datetime
    format: int
    canonical: bytes
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A position an export leaves out: the entry's digest (format 2), or nothing for a format
    1 entry, whose hash links its whole bytes and cannot be followed without them."""

    chain_position: int
    digest: bytes | None
    line: int | None = None
    id: None = None


Sealed = ChainEntry | ExportedEntry
Walked = ChainEntry | ExportedEntry | Link


def _hash_after(previous: bytes, entry: Sealed) -> bytes:
    if isinstance(entry, ChainEntry):
        return next_hash(previous, entry)
    if entry.format == LEGACY_FORMAT:
        return hashlib.sha256(previous + entry.canonical).digest()
    return linked_hash(previous, hashlib.sha256(entry.canonical).digest())


def _stored(entry: Sealed) -> bytes | None:
    try:
        return bytes.fromhex(entry.chain_hash or "")
    except ValueError:
        return None


def _sealing_order(entry: Sealed) -> tuple[datetime, int]:
    # A round seals in id order at one time, and rounds follow each other: along the chain,
    # (sealed_at, id) only grows. Used to explain a fault, never to find one.
    assert entry.sealed_at is not None
    return entry.sealed_at, entry.id


class ChainWalk:
    """Feed sealed entries in position order; :meth:`feed` and :meth:`finish` return the
    first fault (and nothing more is checked after it).

    An export's walk also takes :class:`Link` s, the positions it leaves out: a format 2
    link's digest carries the chain on (checked by the next entry's stored hash, or by a
    checkpoint); a format 1 link is a fault, the chain cannot be followed across it.
    ``on_hash(position, hash)`` is told the chain's hash at each position once it is known
    (for the checkpoints of an export)."""

    def __init__(
        self,
        *,
        previous_hash: bytes = GENESIS,
        first_position: int = 1,
        on_hash: Callable[[int, bytes], str | None] | None = None,
    ) -> None:
        self.previous_hash = previous_hash
        self.first_position = first_position
        self.next_position = first_position
        self.checked = 0
        self.links = 0
        self.fault: Fault | None = None
        self._on_hash = on_hash
        self._pending: Walked | None = None  # fed, checked once the one after it is known
        self._last_good: Sealed | None = None

    def feed(self, entry: Walked) -> Fault | None:
        if self.fault is None and self._pending is not None:
            self.fault = self._check(self._pending, entry)
        self._pending = entry
        return self.fault

    def finish(self) -> Fault | None:
        if self.fault is None and self._pending is not None:
            self.fault = self._check(self._pending, None)
        self._pending = None
        return self.fault

    def _advance(self, position: int, computed: bytes, line: int | None) -> Fault | None:
        self.previous_hash = computed
        self.next_position += 1
        if self._on_hash is not None:
            reason = self._on_hash(position, computed)
            if reason is not None:
                return Fault(position, None, reason, line)
        return None

    def _check(self, entry: Walked, following: Walked | None) -> Fault | None:
        position = entry.chain_position
        assert position is not None
        line = entry.line if not isinstance(entry, ChainEntry) else None
        if position > self.next_position:
            if following is not None and following.chain_position == self.next_position:
                return Fault(
                    self.next_position,
                    following.id,
                    f"out of order: position {position} comes before position "
                    f"{self.next_position} (entries exchanged or moved)",
                    line,
                )
            gap = position - self.next_position
            return Fault(
                self.next_position,
                None,
                f"missing: no entry holds this position ({gap} position"
                f"{'s' if gap > 1 else ''} up to {position - 1} missing): deleted",
                line,
            )
        if position < self.next_position:
            return Fault(position, entry.id, f"position {position} is held twice", line)
        if isinstance(entry, Link):
            if entry.digest is None:
                return Fault(
                    position,
                    None,
                    "a format 1 entry is left out (a link without a digest): format 1 hashes "
                    "an entry's whole bytes, so the chain cannot be followed across it; "
                    "export with filters that include it, or without filters",
                    line,
                )
            self.links += 1
            return self._advance(position, linked_hash(self.previous_hash, entry.digest), line)
        computed = _hash_after(self.previous_hash, entry)
        if computed == _stored(entry):
            self.checked += 1
            self._last_good = entry
            return self._advance(position, computed, line)
        reason = self._why(entry, computed, None if isinstance(following, Link) else following)
        if position == self.first_position and self.first_position > 1 and self._last_good is None:
            reason += " (or the previous hash the walk started from is not the chain's)"
        return Fault(position, entry.id, reason, line)

    def _why(self, entry: Sealed, computed: bytes, following: Sealed | None) -> str:
        stored = _stored(entry)
        if stored is None or len(stored) != hashlib.sha256().digest_size:
            return "its stored hash is not a SHA-256 in hex"
        if following is not None and following.chain_position == entry.chain_position + 1:  # type: ignore[operator]
            if _hash_after(stored, following) == _stored(following):
                return (
                    "changed after sealing: its content does not give its stored hash, "
                    "from which the next entry still chains"
                )
            if _hash_after(computed, following) == _stored(following):
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
    checkpoints: CheckpointReport


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
        # Checked even when the walk found a fault: a checkpoint may say more of it (the
        # chain rewritten, its tail cut off), and a report names both.
        checkpoints = await _verify_checkpoint_rows(connection)
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
        checkpoints=checkpoints,
    )


# --- checkpoints --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointFault:
    """The first checkpoint that does not hold, where it is (a row id or a file's line)."""

    where: str
    position: int | None
    reason: str

    def __str__(self) -> str:
        at = f" (position {self.position})" if self.position is not None else ""
        return f"{self.where}{at}: {self.reason}"


def checkpoint_fault(
    checkpoint: Checkpoint,
    keys: dict[str, PublishedKey],
    *,
    head_position: int,
    chain_hash: str | None,
) -> str | None:
    """Why ``checkpoint`` does not hold against the published keys and the chain whose head is
    at ``head_position`` and whose entry at the checkpoint's position has ``chain_hash``; None
    when it holds. The signature comes first: an unsigned claim says nothing of the chain."""
    key = keys.get(checkpoint.key_id)
    if key is None:
        return f"signed by key {checkpoint.key_id}, which is not published"
    if key_id_of(key.public_key) != key.key_id:
        return f"the published public key of key {key.key_id} is not the key of that id (replaced)"
    if not checkpoint.verifies_under(key.public_key):
        return (
            f"its signature does not verify under key {key.key_id} (signed by another key, "
            "or changed after signing)"
        )
    if not key.valid_at(checkpoint.signed_at):
        until = utc_timestamp(key.retired_at) if key.retired_at else "now"
        return (
            f"signed at {utc_timestamp(checkpoint.signed_at)}, outside the validity of key "
            f"{key.key_id} ({utc_timestamp(key.valid_from)} to {until})"
        )
    if checkpoint.position > head_position:
        return (
            f"the chain ends at position {head_position}, before this signed position: "
            "entries were cut off its tail"
        )
    if chain_hash is None:
        return "no entry holds this position: deleted"
    if chain_hash != checkpoint.hash:
        return (
            f"the chain's hash here is {chain_hash}, the signed one {checkpoint.hash}: the "
            "chain was rewritten at or before this position"
        )
    return None


@dataclass(frozen=True, slots=True)
class CheckpointReport:
    checked: int  # checkpoints that hold, before the first fault (all when none)
    last: Checkpoint | None  # the last one that holds, by position
    fault: CheckpointFault | None


_KEYS = "SELECT key_id, public_key, valid_from, retired_at FROM audit_signing_keys"
_HEAD = "SELECT coalesce(max(chain_position), 0) FROM audit_entries"
_CHECKPOINTS = (
    "SELECT c.id, c.v, c.chain_position, c.chain_hash, c.signed_at, c.key_id, c.signature, "
    "       e.chain_hash AS entry_hash "
    "FROM audit_checkpoints AS c "
    "LEFT JOIN audit_entries AS e ON e.chain_position = c.chain_position "
    "ORDER BY c.chain_position, c.id"
)
_HASHES_AT = (
    "SELECT chain_position, chain_hash FROM audit_entries WHERE chain_position = ANY($1::bigint[])"
)
# File lines checked per round trip.
_LINES_PER_QUERY = 1000


async def _published_keys(connection: asyncpg.Connection) -> dict[str, PublishedKey]:
    return {
        row["key_id"]: PublishedKey(
            row["key_id"], bytes(row["public_key"]), row["valid_from"], row["retired_at"]
        )
        for row in await connection.fetch(_KEYS)
    }


async def _verify_checkpoint_rows(connection: asyncpg.Connection) -> CheckpointReport:
    """Every checkpoint row, in position order, in the caller's snapshot."""
    keys = await _published_keys(connection)
    head = await connection.fetchval(_HEAD)
    checked, last = 0, None
    async for row in connection.cursor(_CHECKPOINTS, prefetch=_PREFETCH):
        checkpoint = Checkpoint(
            row["chain_position"],
            row["chain_hash"],
            row["signed_at"],
            row["key_id"],
            bytes(row["signature"]),
            row["v"],
        )
        reason = checkpoint_fault(
            checkpoint, keys, head_position=head, chain_hash=row["entry_hash"]
        )
        if reason is not None:
            where = f"checkpoint id {row['id']}"
            return CheckpointReport(
                checked, last, CheckpointFault(where, checkpoint.position, reason)
            )
        checked, last = checked + 1, checkpoint
    return CheckpointReport(checked, last, None)


async def verify_checkpoint_lines(
    connection: asyncpg.Connection, lines: Iterable[str], *, name: str
) -> CheckpointReport:
    """Checkpoints kept outside the database (one JSON line each, as the service appends them;
    empty lines skipped), in one read-only snapshot, against the live chain and the published
    keys. Stops at the first that does not hold (or does not parse), naming its line."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        keys = await _published_keys(connection)
        head = await connection.fetchval(_HEAD)
        checked, last = 0, None
        batch: list[tuple[int, Checkpoint]] = []

        async def check(batch: list[tuple[int, Checkpoint]]) -> CheckpointFault | None:
            nonlocal checked, last
            rows = await connection.fetch(_HASHES_AT, [cp.position for _, cp in batch])
            hashes = {row["chain_position"]: row["chain_hash"] for row in rows}
            for number, checkpoint in batch:
                reason = checkpoint_fault(
                    checkpoint, keys, head_position=head, chain_hash=hashes.get(checkpoint.position)
                )
                if reason is not None:
                    return CheckpointFault(f"{name} line {number}", checkpoint.position, reason)
                checked += 1
                if last is None or checkpoint.position >= last.position:
                    last = checkpoint
            return None

        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                batch.append((number, Checkpoint.parse(line)))
            except ValueError as exc:
                # The lines before it are checked first: the first bad line is this one only
                # if they all hold.
                fault = await check(batch)
                return CheckpointReport(
                    checked,
                    last,
                    fault
                    or CheckpointFault(f"{name} line {number}", None, f"not a checkpoint: {exc}"),
                )
            if len(batch) == _LINES_PER_QUERY:
                if (fault := await check(batch)) is not None:
                    return CheckpointReport(checked, last, fault)
                batch = []
        fault = await check(batch) if batch else None
        return CheckpointReport(checked, last, fault)
