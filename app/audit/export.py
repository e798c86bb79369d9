"""Exports of the audit trail: the entries an auditor asked for, with what proves them, in one
file that ``relay247 audit verify FILE`` checks offline (docs/audit-chain.md, "Exports").

An export is a *segment* of the chain: from the first entry matching the filters to the first
signed checkpoint at or after the last one. In position order it holds every matching entry
whole, and for each entry of the segment it leaves out, a *link*: the entry's digest (format
2), which carries the chain on without showing the entry. The checkpoints of the segment come
first, so a verifier knows which positions' hashes to compare as it walks; the last line says
how many records came, so a file cut short is told from a whole one.

The header is signed by the service (Ed25519, the checkpoints' key) before the first entry
goes out, and states everything the file asserts beyond what the chain proves: the filters
applied (so whether links may appear at all), the segment's first and last positions and
hashes, and how many entries, links and checkpoints follow. Dropping, adding or replacing
records, moving the start, cutting the tail and rewriting the end, or forging the filters
then each contradict a signed statement (docs/audit-chain.md, "The NDJSON file").

Memory is constant whatever the size: the segment is read in one REPEATABLE READ read-only
snapshot through a server-side cursor, in chunks, and each chunk is serialised (and the
digests of the entries left out computed, about 40 µs each) in a worker thread, so the event
loop is never held for more than a few milliseconds.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import enum
import hashlib
import io
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app import audit
from app.audit import checkpoints as checkpoint_service
from app.audit.chain import (
    CHAIN_COLUMNS,
    GENESIS,
    LEGACY_FORMAT,
    ChainEntry,
    canonical_bytes,
    canonical_document,
    in_fast_subset,
    utc_timestamp,
)
from app.audit.checkpoints import Checkpoint
from app.audit.export_records import CSV_COLUMNS, EXPORT_TYPE
from app.audit.keys import KeyHolder, SigningKey
from app.audit.query import OBJECT_TYPE, AuditFilter, conditions
from app.core.canonical import jcs
from app.core.database import Database
from app.identity.auth import Actor
from app.models import AuditCheckpoint, AuditEntry

log = logging.getLogger(__name__)

EXPORT_VERSION = 2
# Exports written before the header was signed: checked only when asked for (their header,
# filters and range are anybody's to rewrite), see export_verify.
UNSIGNED_EXPORT_VERSION = 1
# Rows read, serialised and sent at a time: about 20 ms of work in a thread for links.
CHUNK = 500


class ExportFormat(enum.StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"


MEDIA_TYPES = {ExportFormat.NDJSON: "application/x-ndjson", ExportFormat.CSV: "text/csv"}


def entry_record(entry: ChainEntry) -> dict[str, Any]:
    record = canonical_document(entry)
    record["type"] = "entry"
    record["hash"] = entry.chain_hash
    return record


def link_record(entry: ChainEntry) -> dict[str, Any]:
    assert entry.chain_position is not None
    if entry.format == LEGACY_FORMAT:
        return {"type": "link", "position": entry.chain_position, "v": LEGACY_FORMAT}
    digest = hashlib.sha256(canonical_bytes(entry)).hexdigest()
    return {"type": "link", "position": entry.chain_position, "digest": digest}


def _entry_line(entry: ChainEntry) -> str:
    record = entry_record(entry)
    return jcs(record, checked=in_fast_subset(record)).decode()


def _link_line(entry: ChainEntry) -> str:
    record = link_record(entry)
    if "digest" in record:  # RFC 8785 of the record, written directly: keys sorted
        return f'{{"digest":"{record["digest"]}","position":{record["position"]},"type":"link"}}'
    return jcs(record).decode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return jcs(value).decode()  # integers, and countries and details as JSON text


class _Writer:
    """Records to the bytes of one format."""

    def __init__(self, fmt: ExportFormat) -> None:
        self.format = fmt
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\n")

    def start(self) -> bytes:
        if self.format is ExportFormat.CSV:
            self._csv.writerow(CSV_COLUMNS)
        return self._take()

    def _take(self) -> bytes:
        data = self._buffer.getvalue().encode()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def whole(self, record_type: str, line: str) -> None:
        """A record carried whole (header, checkpoint, end): its JSON line."""
        if self.format is ExportFormat.NDJSON:
            self._buffer.write(line + "\n")
        else:
            self._csv.writerow([record_type] + [""] * (len(CSV_COLUMNS) - 2) + [line])

    def record(self, record: dict[str, Any]) -> None:
        """An entry or a link."""
        if self.format is ExportFormat.NDJSON:
            self._buffer.write(jcs(record).decode() + "\n")
        else:
            self._csv.writerow([_cell(record.get(name)) for name in CSV_COLUMNS])

    def rows(self, rows: Sequence[Any]) -> bytes:
        if self.format is ExportFormat.NDJSON:
            lines = [
                _entry_line(entry) if row.matches else _link_line(entry)
                for row in rows
                for entry in (ChainEntry.of(row),)
            ]
            self._buffer.write("\n".join(lines) + "\n")
        else:
            for row in rows:
                entry = ChainEntry.of(row)
                self.record(entry_record(entry) if row.matches else link_record(entry))
        return self._take()

    def checkpoints(self, lines: Sequence[str]) -> bytes:
        for line in lines:
            self.whole(checkpoint_service.CHECKPOINT_TYPE, line)
        return self._take()

    def flush(self) -> bytes:
        return self._take()


@dataclass(frozen=True, slots=True)
class Segment:
    first: int
    last: int  # the last position of the segment: a checkpoint's
    previous_hash: str
    last_hash: str
    entries: int  # records of the segment: entries whole, and links
    links: int
    checkpoints: int


@dataclass(frozen=True, slots=True)
class ExportSigner:
    """The key an export's header is signed with and the moment it states: the database's
    clock read while the key was confirmed current (published, not retired), just before the
    export's snapshot."""

    key: SigningKey
    signed_at: datetime

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        signed = {**document, "signed_at": utc_timestamp(self.signed_at), "key_id": self.key.key_id}
        signature = self.key.sign(jcs(signed))
        return {**signed, "signature": base64.b64encode(signature).decode()}


async def export_signer(database: Database, keys: KeyHolder) -> ExportSigner:
    """The instance's current key and the database's clock, in one short transaction holding
    the key lock shared (keys.py), so the moment stated is within the key's validity. Raises
    SigningKeyError."""
    async with database.engine.begin() as connection:
        key = await keys.for_signing(connection)
        now = await connection.scalar(select(func.clock_timestamp()))
    assert now is not None
    return ExportSigner(key, now)


def _matching(actor: Actor | None, filters: AuditFilter) -> ColumnElement[bool]:
    clauses = conditions(actor, filters)
    return and_(*clauses) if clauses else true()


async def _last_matching(connection: AsyncConnection, matching: ColumnElement[bool]) -> int | None:
    return await connection.scalar(
        select(func.max(AuditEntry.chain_position)).where(
            AuditEntry.chain_position.is_not(None), matching
        )
    )


async def _last_checkpoint(connection: AsyncConnection) -> int | None:
    return await connection.scalar(select(func.max(AuditCheckpoint.chain_position)))


async def ensure_signed(
    database: Database,
    actor: Actor | None,
    filters: AuditFilter,
    *,
    keys: KeyHolder,
    checkpoint_file: Path | None,
) -> Checkpoint | None:
    """Before an export: if the last entry it would hold is covered by no checkpoint yet, sign
    the head now (stored, and appended to ``checkpoint_file``), so the export's tail is
    signed. Returns the checkpoint signed, if one was. Raises SigningKeyError."""
    matching = _matching(actor, filters)
    async with database.engine.connect() as connection:
        last = await _last_matching(connection, matching)
        signed = await _last_checkpoint(connection)
    if last is None or (signed is not None and signed >= last):
        return None
    async with database.engine.begin() as connection:
        checkpoint = await checkpoint_service.take(connection, keys, only_if_moved=True, wait=True)
    if checkpoint is not None and checkpoint_file is not None:
        await asyncio.to_thread(checkpoint_service.append_line, checkpoint_file, checkpoint)
    return checkpoint


_ENTRY_COLUMNS = text(CHAIN_COLUMNS)


async def _segment(connection: AsyncConnection, matching: ColumnElement[bool]) -> Segment | None:
    """The segment in the snapshot: up to the last checkpoint it shows (entries sealed since
    are the next export's), None when nothing matches."""
    signed = await _last_checkpoint(connection)
    if signed is None:
        return None
    bounds = (
        await connection.execute(
            select(func.min(AuditEntry.chain_position), func.max(AuditEntry.chain_position)).where(
                AuditEntry.chain_position.is_not(None),
                AuditEntry.chain_position <= signed,
                matching,
            )
        )
    ).one()
    first, last_matching = bounds
    if first is None:
        return None
    last = await connection.scalar(
        select(func.min(AuditCheckpoint.chain_position)).where(
            AuditCheckpoint.chain_position >= last_matching
        )
    )
    assert last is not None  # the last checkpoint is at or after it
    previous = GENESIS.hex()
    if first > 1:
        previous = await connection.scalar(
            select(AuditEntry.chain_hash).where(AuditEntry.chain_position == first - 1)
        )
        if previous is None:  # deleted: the export shows it, the verifier says so
            previous = "0" * 64
    in_segment = AuditEntry.chain_position.between(first, last)
    whole, records = (
        await connection.execute(
            select(func.count().filter(matching), func.count()).where(in_segment)
        )
    ).one()
    last_hash = await connection.scalar(
        select(AuditEntry.chain_hash).where(AuditEntry.chain_position == last)
    )
    checkpoints = await connection.scalar(
        select(func.count())
        .select_from(AuditCheckpoint)
        .where(AuditCheckpoint.chain_position.between(first, last))
    )
    # The checkpoint at ``last`` signs this hash; a deleted entry there (no hash) is shown by
    # the export as missing, and the verifier says so.
    return Segment(
        first,
        last,
        previous,
        last_hash or "0" * 64,
        entries=whole,
        links=records - whole,
        checkpoints=checkpoints or 0,
    )


def header(filters: AuditFilter, segment: Segment | None, signer: ExportSigner) -> str:
    """The signed header: what the file asserts beyond what the chain proves."""
    return jcs(
        signer.sign(
            {
                "type": EXPORT_TYPE,
                "v": EXPORT_VERSION,
                "filters": filters.described(),
                "first_position": segment.first if segment else None,
                "previous_hash": segment.previous_hash if segment else None,
                "last_position": segment.last if segment else None,
                "last_hash": segment.last_hash if segment else None,
                "entries": segment.entries if segment else 0,
                "links": segment.links if segment else 0,
                "checkpoints": segment.checkpoints if segment else 0,
            }
        )
    ).decode()


def end(entries: int, links: int, last_position: int | None, last_hash: str | None) -> str:
    return jcs(
        {
            "type": "end",
            "entries": entries,
            "links": links,
            "last_position": last_position,
            "last_hash": last_hash,
        }
    ).decode()


async def export_lines(
    database: Database,
    actor: Actor | None,
    filters: AuditFilter,
    fmt: ExportFormat,
    signer: ExportSigner,
) -> AsyncGenerator[bytes, None]:
    """The export's bytes, a chunk at a time. Call :func:`ensure_signed` first, then
    :func:`export_signer`. A database failing midway raises: the caller ends the file without
    its end line (truncated)."""
    matching = _matching(actor, filters)
    writer = _Writer(fmt)
    yield writer.start()
    async with database.engine.connect() as connection:
        connection = await connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        async with connection.begin():
            segment = await _segment(connection, matching)
            writer.whole(EXPORT_TYPE, header(filters, segment, signer))
            if segment is None:
                writer.whole("end", end(0, 0, None, None))
                yield writer.flush()
                return
            yield writer.flush()
            checkpoints = await connection.stream(
                select(
                    AuditCheckpoint.v,
                    AuditCheckpoint.chain_position,
                    AuditCheckpoint.chain_hash,
                    AuditCheckpoint.signed_at,
                    AuditCheckpoint.key_id,
                    AuditCheckpoint.signature,
                )
                .where(AuditCheckpoint.chain_position.between(segment.first, segment.last))
                .order_by(AuditCheckpoint.chain_position, AuditCheckpoint.id)
                .execution_options(yield_per=CHUNK)
            )
            async for rows in checkpoints.partitions():
                lines = [
                    Checkpoint(
                        row.chain_position,
                        row.chain_hash,
                        row.signed_at,
                        row.key_id,
                        bytes(row.signature),
                        row.v,
                    ).line()
                    for row in rows
                ]
                yield await asyncio.to_thread(writer.checkpoints, lines)
            entries = await connection.stream(
                select(_ENTRY_COLUMNS, matching.label("matches"))
                .select_from(AuditEntry)
                .where(AuditEntry.chain_position.between(segment.first, segment.last))
                .order_by(AuditEntry.chain_position)
                .execution_options(yield_per=CHUNK)
            )
            counts = [0, 0]
            last: tuple[int | None, str | None] = (None, None)
            async for rows in entries.partitions():
                for row in rows:
                    counts[0 if row.matches else 1] += 1
                last = (rows[-1].chain_position, rows[-1].chain_hash)
                yield await asyncio.to_thread(writer.rows, rows)
            writer.whole("end", end(counts[0], counts[1], *last))
            yield writer.flush()


async def record_export(
    database: Database, actor: Actor | None, filters: AuditFilter, fmt: ExportFormat
) -> None:
    """The export's own audit entry, committed before its first byte goes out."""
    async with database.transaction() as session:
        await audit.record(
            session,
            actor,
            "audit.exported",
            object_type=OBJECT_TYPE,
            object_id="export",
            countries=[filters.country],
            details={**filters.described(), "format": fmt.value},
        )
