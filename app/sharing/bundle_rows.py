"""A submitted bundle's objects made ready to store, and written: the intake's fast path
(bench `shared_intake`).

Each object is checked (app/stix/validation.py), hashed (SHA-256 of its RFC 8785 form, what
the audit trail names), its TLP marking read, and, for the store, its identifiers
(app/stix/identifiers.py) taken: pure CPU work, done off the event loop. ``write`` does it a
chunk at a time and copies each chunk's rows (asyncpg's binary COPY, on the transaction's own
connection) while the next chunk is prepared in a thread, so the server's Python and
Postgres work on a bundle at the same time instead of each waiting for the other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.canonical import sha256_hex
from app.models.enums import HandlingCode, IdentifierKind
from app.stix.identifiers import identifiers_of
from app.stix.markings import handling_code_of
from app.stix.validation import problems

_MAX_PROBLEMS = 3

STIX_COLUMNS = (
    "row_id",
    "collection_id",
    "submission_id",
    "origin",
    "stix_id",
    "type",
    "spec_version",
    "version",
    "date_added",
    "object",
    "object_hash",
    "handling_code",
    "triage",
    "purge_after",
)


@dataclass(slots=True)
class Candidate:
    """One object of a bundle, as far as it can be judged without the database."""

    obj: dict[str, Any]
    label: str  # its id, or its place in the bundle when it has none
    problem: str | None = None
    stix_id: str = ""
    type: str = ""
    spec_version: str = "2.1"
    version: datetime | None = None  # None: no modified nor created (an SCO)
    object_hash: str = ""
    marked: HandlingCode | None = None
    identifiers: list[tuple[IdentifierKind, str]] = field(default_factory=list)
    # Decided later, against the terms and the store.
    handling: HandlingCode = HandlingCode.RED
    skip: bool = False  # the same object again (in the bundle or stored): nothing to write

    @property
    def version_text(self) -> str | None:
        value = self.obj.get("modified") or self.obj.get("created")
        return value if isinstance(value, str) else None


def _stix_time(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z") + "+00:00").astimezone(UTC)


def _candidate(index: int, obj: dict[str, Any], *, with_identifiers: bool) -> Candidate:
    object_id = obj.get("id")
    label = (
        object_id if isinstance(object_id, str) and len(object_id) <= 128 else f"objects[{index}]"
    )
    found = problems(obj)
    if found:
        return Candidate(
            obj, label, problem="invalid STIX 2.1: " + "; ".join(found[:_MAX_PROBLEMS])
        )
    if len(obj["id"]) > 128 or len(obj["type"]) > 64:
        return Candidate(obj, label, problem="the id or type is too long to store")
    try:
        object_hash = sha256_hex(obj)
        version_text = obj.get("modified") or obj.get("created")
        version = _stix_time(version_text) if isinstance(version_text, str) else None
    except ValueError as exc:
        return Candidate(obj, label, problem=f"cannot be stored: {type(exc).__name__}")
    spec_version = obj.get("spec_version")
    return Candidate(
        obj,
        label,
        stix_id=obj["id"],
        type=obj["type"],
        spec_version=spec_version if isinstance(spec_version, str) else "2.1",
        version=version,
        object_hash=object_hash,
        marked=handling_code_of(obj),
        identifiers=identifiers_of(obj) if with_identifiers else [],
    )


def prepare(
    objects: Sequence[dict[str, Any]], *, with_identifiers: bool, start: int = 0
) -> list[Candidate]:
    """The candidates of ``objects``, the bundle's objects from index ``start`` on."""
    return [
        _candidate(index, obj, with_identifiers=with_identifiers)
        for index, obj in enumerate(objects, start)
    ]


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction (already begun)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


@dataclass(frozen=True, slots=True)
class StoreTarget:
    collection_id: uuid.UUID
    submission_id: uuid.UUID
    triage: str | None
    date_added: datetime
    purge_after: datetime
    with_identifiers: bool  # store rows (a share) carry their indicator_values


class Refused(Exception):
    """An object of the bundle is refused: nothing of it may be stored (the caller rolls
    back what was copied and lists every refusal)."""


class AlreadyStored(Exception):
    """An object's id and version is already in the collection, which the judge was not
    told of (it is told of the stored versions of only the unversioned objects' ids, at
    first, since a new bundle's ids are nearly always new: the store's unique key checks
    the versioned ones during the copy, at no cost beyond the index it updates anyway).
    The caller rolls back what was copied and writes the bundle again with every id's
    stored versions: the same object skipped, another refused as a conflict."""


_STORED_KEY = "uq_stix_objects_collection_id_stix_id_version"


# Objects prepared, judged and copied at a time: large enough that a COPY's round trip is
# small beside its rows, small enough that memory is bounded by it, not by the bundle.
CHUNK = 2_000
# The first chunk's preparation is the one nothing overlaps: chunks start this small and
# double up to CHUNK, each copied while the next, twice its size, is prepared (preparing an
# object costs about half of what Postgres spends copying it).
FIRST_CHUNK = 250


def chunk_bounds(count: int) -> list[tuple[int, int]]:
    """The (start, end) of each chunk of a bundle of ``count`` objects."""
    bounds, start, size = [], 0, min(FIRST_CHUNK, CHUNK)
    while start < count:
        bounds.append((start, min(start + size, count)))
        start, size = start + size, min(size * 2, CHUNK)
    return bounds


# Row ids drawn before the rows are copied, so that each indicator value names its object's
# row without reading the rows back (COPY writes the given value into an identity column).
_DRAW_ROW_IDS = (
    "SELECT array(SELECT nextval(pg_get_serial_sequence('stix_objects', 'row_id')) "
    "FROM generate_series(1, $1))"
)


async def write(
    session: AsyncSession,
    target: StoreTarget,
    objects: Sequence[dict[str, Any]],
    judge: Callable[[int, Candidate], str | None],
) -> list[int]:
    """Prepare, judge and copy ``objects`` into ``target``; the row ids written. Raises
    Refused at the first object ``judge`` refuses, AlreadyStored at the first chunk that
    holds an id and version stored (rows of earlier chunks are copied by then: the caller
    runs this in a savepoint)."""
    driver = await _driver(session)
    row_ids: list[int] = await driver.fetchval(_DRAW_ROW_IDS, len(objects))
    written: list[int] = []
    chunks = iter(chunk_bounds(len(objects)))
    pending = _prepare_soon(objects, next(chunks, None), target)
    try:
        while pending is not None:
            candidates, start = await pending
            pending = _prepare_soon(objects, next(chunks, None), target)
            rows: list[tuple[int, Candidate]] = []
            for index, row in enumerate(candidates, start):
                if judge(index, row) is not None:
                    raise Refused
                if not row.skip:
                    rows.append((row_ids[index], row))
            if rows:
                try:
                    await _copy(driver, target, rows)
                except asyncpg.UniqueViolationError as exc:
                    if exc.constraint_name != _STORED_KEY:
                        raise
                    raise AlreadyStored from exc
                written.extend(row_id for row_id, _ in rows)
    finally:
        if pending is not None:
            pending.cancel()  # its thread finishes on its own; its result is not wanted
    return written


def _prepare_soon(
    objects: Sequence[dict[str, Any]], bounds: tuple[int, int] | None, target: StoreTarget
) -> asyncio.Future[tuple[list[Candidate], int]] | None:
    """The chunk ``bounds`` of ``objects`` prepared in a thread, with its start; None when
    there is no chunk left."""
    if bounds is None:
        return None
    start, end = bounds

    def prepared() -> tuple[list[Candidate], int]:
        return prepare(
            objects[start:end], with_identifiers=target.with_identifiers, start=start
        ), start

    return asyncio.ensure_future(asyncio.to_thread(prepared))


async def _copy(driver: Any, target: StoreTarget, rows: Sequence[tuple[int, Candidate]]) -> None:
    records = [
        (
            row_id,
            target.collection_id,
            target.submission_id,
            "submitted",
            row.stix_id,
            row.type,
            row.spec_version,
            row.version or target.date_added,
            target.date_added,
            orjson.dumps(row.obj).decode(),
            row.object_hash,
            row.handling.value,
            target.triage,
            target.purge_after,
        )
        for row_id, row in rows
    ]
    await driver.copy_records_to_table("stix_objects", records=records, columns=STIX_COLUMNS)
    values = [
        (kind.value, value, row_id) for row_id, row in rows for kind, value in row.identifiers
    ]
    if values:
        await driver.copy_records_to_table(
            "indicator_values", records=values, columns=("kind", "value", "object_row_id")
        )
