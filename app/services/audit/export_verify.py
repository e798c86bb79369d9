"""Checking an export offline (``relay247 audit verify FILE --public-key KEY``): no database,
only the file and the public keys its checkpoints are to be signed with.

One pass over the lines, in constant memory but for the segment's checkpoints (read first):
the header, each checkpoint's signature (by one of the given keys, within its validity), every
entry's hash recomputed from its members and the hash before it, the links carrying the chain
over the entries left out, the continuity of positions (:class:`ChainWalk`), each checkpoint's
hash against the chain at its position, a checkpoint covering the last entry, and the end line
(a file cut short has none). It stops at the first fault and names its line.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.services.audit.chain import (
    ENTRY_MEMBERS,
    FORMAT_VERSION,
    GENESIS,
    LEGACY_FORMAT,
    in_fast_subset,
    jcs,
)
from app.services.audit.checkpoints import CHECKPOINT_TYPE, Checkpoint
from app.services.audit.export import (
    CSV_COLUMNS,
    CSV_NULLABLE,
    EXPORT_TYPE,
    EXPORT_VERSION,
    ExportFormat,
)
from app.services.audit.keys import PublishedKey
from app.services.audit.verify import ChainWalk, ExportedEntry, Link, checkpoint_fault

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_MEMBERS = frozenset(ENTRY_MEMBERS)


# The members of an entry holding a string or null.
_TEXT_MEMBERS = tuple(sorted(_ENTRY_MEMBERS - {"v", "position", "id", "details"}))
_MEMBERS_OF = {
    LEGACY_FORMAT: _ENTRY_MEMBERS,
    FORMAT_VERSION: _ENTRY_MEMBERS | {"countries"},
}


@dataclass(frozen=True, slots=True)
class ExportFault:
    line: int | None
    position: int | None
    reason: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        if self.position is not None:
            where.append(f"position {self.position}")
        return f"{', '.join(where) or 'the file'}: {self.reason}"


@dataclass(slots=True)
class ExportReport:
    format: ExportFormat | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    entries: int = 0
    links: int = 0
    checkpoints: int = 0
    first_position: int | None = None
    last_position: int | None = None
    last_hash: str | None = None
    covered_by: Checkpoint | None = None  # the last checkpoint, which signs the tail
    fault: ExportFault | None = None


class _Bad(Exception):
    """A line that is not what it should be (caught in the loop: first fault)."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _Bad(f"{name} is not a positive integer")
    return value


def _entry(document: dict[str, Any], line: int) -> ExportedEntry:
    chain_hash = document.pop("hash", None)
    version = document.get("v")
    position = document.get("position")
    where = position if isinstance(position, int) else None
    expected = _MEMBERS_OF.get(version)  # type: ignore[arg-type]
    if expected is None:
        raise _Bad(f"an entry of an unknown format (v {version!r})", where)
    if document.keys() != expected:
        missing, extra = sorted(expected - set(document)), sorted(set(document) - expected)
        raise _Bad(
            f"not an entry of format {version}: missing {missing}, unexpected {extra}", where
        )
    if not isinstance(chain_hash, str):
        raise _Bad("an entry without its hash", where)
    position, entry_id = _int(position, "position"), _int(document["id"], "id")
    try:
        sealed_at = datetime.fromisoformat(document["sealed_at"])
    except (TypeError, ValueError):
        raise _Bad("sealed_at is not a time", where) from None
    # Strings, null and lists of strings everywhere but details: the stdlib's encoder writes
    # RFC 8785 then, if details allow it too (chain.in_fast_subset).
    fast = (version == LEGACY_FORMAT or _strings(document["countries"])) and all(
        document[name] is None or type(document[name]) is str for name in _TEXT_MEMBERS
    )
    try:
        canonical = jcs(document, checked=fast and in_fast_subset(document))
    except Exception as exc:  # the rfc8785 package's errors: a value RFC 8785 cannot carry
        raise _Bad(f"a member RFC 8785 cannot carry ({type(exc).__name__})", where) from None
    return ExportedEntry(
        id=entry_id,
        chain_position=position,
        chain_hash=chain_hash,
        sealed_at=sealed_at,
        format=LEGACY_FORMAT if version == LEGACY_FORMAT else FORMAT_VERSION,
        canonical=canonical,
        line=line,
    )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _link(document: dict[str, Any], line: int) -> Link:
    position = _int(document.get("position"), "position")
    if document == {"position": position, "v": LEGACY_FORMAT}:
        return Link(position, None, line)
    digest = document.get("digest")
    if set(document) != {"position", "digest"} or not isinstance(digest, str):
        raise _Bad("a link is {position, digest} or, format 1, {position, v: 1}", position)
    if not _HEX64.match(digest):
        raise _Bad("its digest is not a SHA-256 in lowercase hex", position)
    return Link(position, bytes.fromhex(digest), line)


# --- the two formats, as records --------------------------------------------------------------


def _json_lines(lines: Iterator[str], first: str) -> Iterator[tuple[int, str, Any]]:
    """(line number, raw line, document or None when it is not JSON)."""
    number = 1
    for text in _chain_first(first, lines):
        if text.strip():
            yield number, text, _loads(text)
        number += 1


def _chain_first(first: str, lines: Iterator[str]) -> Iterator[str]:
    yield first
    yield from lines


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _csv_cell(name: str, value: str) -> Any:
    if name in CSV_NULLABLE and value == "":
        return None
    return value


def _csv_entry(row: dict[str, str]) -> dict[str, Any]:
    try:
        version = int(row["v"])
        document: dict[str, Any] = {
            "v": version,
            "position": int(row["position"]),
            "id": int(row["id"]),
            "details": json.loads(row["details"]),
        }
        if version != LEGACY_FORMAT:
            document["countries"] = json.loads(row["countries"])
    except (ValueError, json.JSONDecodeError):
        raise _Bad("v, position, id, countries or details is malformed") from None
    for name in _ENTRY_MEMBERS - document.keys():
        document[name] = _csv_cell(name, row[name])
    document["hash"] = row["hash"]
    document["type"] = "entry"
    return document


def _csv_record(row: list[str]) -> Any:
    if len(row) != len(CSV_COLUMNS):
        raise _Bad(f"{len(row)} columns, not the {len(CSV_COLUMNS)} of an export")
    cells = dict(zip(CSV_COLUMNS, row, strict=True))
    kind = cells["type"]
    if kind in (EXPORT_TYPE, CHECKPOINT_TYPE, "end"):
        return _loads(cells["record"])
    if kind == "entry":
        return _csv_entry(cells)
    if kind == "link":
        try:
            position = int(cells["position"])
        except ValueError:
            raise _Bad("position is not an integer") from None
        if cells["v"]:
            return {"type": "link", "position": position, "v": _loads(cells["v"])}
        return {"type": "link", "position": position, "digest": cells["digest"]}
    raise _Bad(f"unknown record type {kind[:40]!r}")


def _csv_lines(lines: Iterator[str], first: str) -> Iterator[tuple[int, str, Any]]:
    reader = csv.reader(_chain_first(first, lines))
    header = next(reader)
    if tuple(header) != CSV_COLUMNS:
        raise _Bad("the CSV's columns are not those of an export")
    for row in reader:
        if not row:
            continue
        try:
            record = _csv_record(row)
        except _Bad as bad:
            yield reader.line_num, "", bad
            continue
        raw = row[-1] if row[0] == CHECKPOINT_TYPE else ""
        yield reader.line_num, raw, record


# --- the walk ---------------------------------------------------------------------------------


class _Verifier:
    def __init__(self, keys: dict[str, PublishedKey]) -> None:
        self.keys = keys
        self.report = ExportReport()
        self.walk: ChainWalk | None = None
        self.signed: dict[int, list[tuple[int, Checkpoint]]] = {}
        self.last_checkpoint: tuple[int, Checkpoint] | None = None
        self.last_entry: int | None = None
        self.stage = "header"  # header, body, end

    def _on_hash(self, position: int, chain_hash: bytes) -> str | None:
        for line, checkpoint in self.signed.pop(position, ()):
            if checkpoint.hash != chain_hash.hex():
                return (
                    f"the chain's hash here is {chain_hash.hex()}, the checkpoint of line {line} "
                    f"signs {checkpoint.hash}: an entry or link at or before this position was "
                    "changed, or the header's previous_hash"
                )
        return None

    def header(self, document: Any) -> None:
        if not (
            isinstance(document, dict)
            and document.get("type") == EXPORT_TYPE
            and document.get("v") == EXPORT_VERSION
        ):
            raise _Bad(f"not a version {EXPORT_VERSION} {EXPORT_TYPE} header")
        first, previous = document.get("first_position"), document.get("previous_hash")
        filters = document.get("filters")
        self.report.filters = filters if isinstance(filters, dict) else {}
        self.stage = "body"
        if first is None and previous is None:
            return  # nothing matched: an empty export
        first = _int(first, "first_position")
        if not isinstance(previous, str) or not _HEX64.match(previous):
            raise _Bad("previous_hash is not a SHA-256 in lowercase hex")
        if first == 1 and previous != GENESIS.hex():
            raise _Bad("previous_hash of position 1 must be the genesis (64 zeros)", 1)
        self.report.first_position = first
        self.walk = ChainWalk(
            previous_hash=bytes.fromhex(previous), first_position=first, on_hash=self._on_hash
        )

    def checkpoint(self, raw: str, line: int) -> None:
        if self.walk is None:
            raise _Bad("a checkpoint in an export that holds no entry")
        if self.walk.next_position != self.walk.first_position or self.report.links:
            raise _Bad("a checkpoint after the entries: checkpoints come first")
        try:
            checkpoint = Checkpoint.parse(raw)
        except ValueError as exc:
            raise _Bad(f"not a checkpoint: {exc}") from None
        position = checkpoint.position
        if checkpoint.key_id not in self.keys:
            raise _Bad(
                f"the checkpoint is signed by key {checkpoint.key_id}, which is none of the "
                "keys given (--public-key)",
                position,
            )
        reason = checkpoint_fault(
            checkpoint, self.keys, head_position=position, chain_hash=checkpoint.hash
        )
        if reason is not None:
            raise _Bad(f"the checkpoint: {reason}", position)
        if position < self.walk.first_position:
            raise _Bad("a checkpoint before the export's first position", position)
        if self.last_checkpoint is not None and position < self.last_checkpoint[1].position:
            raise _Bad("checkpoints out of position order", position)
        self.signed.setdefault(position, []).append((line, checkpoint))
        self.last_checkpoint = (line, checkpoint)
        self.report.checkpoints += 1

    def item(self, document: dict[str, Any], line: int) -> None:
        if self.walk is None:
            raise _Bad("an entry in an export whose header says it holds none")
        kind = document.pop("type")
        item = _entry(document, line) if kind == "entry" else _link(document, line)
        if kind == "entry":
            self.report.entries += 1
            self.last_entry = item.chain_position
        else:
            self.report.links += 1
        fault = self.walk.feed(item)
        if fault is not None:
            raise _WalkFault(
                fault.line or line, fault.position, _walk_reason(fault.reason, fault.entry_id)
            )

    def end(self, document: dict[str, Any]) -> None:
        self.stage = "end"
        walk = self.walk
        if walk is not None:
            fault = walk.finish()
            if fault is not None:
                reason = _walk_reason(fault.reason, fault.entry_id)
                raise _WalkFault(fault.line, fault.position, reason)
            self.report.last_position = walk.next_position - 1
            self.report.last_hash = walk.previous_hash.hex()
        expected = {
            "type": "end",
            "entries": self.report.entries,
            "links": self.report.links,
            "last_position": self.report.last_position,
            "last_hash": self.report.last_hash,
        }
        if document != expected:
            differ = sorted(
                name for name in expected if document.get(name) != expected[name]
            ) or sorted(set(document) - set(expected))
            raise _Bad(
                f"the end line does not match the export ({', '.join(differ)}: records added "
                "or removed, or the end line changed)"
            )
        for position, pending in sorted(self.signed.items()):
            line, _ = pending[0]
            raise _Bad(
                f"the checkpoint of line {line} is beyond the export's last position "
                f"{self.report.last_position}",
                position,
            )
        if self.last_entry is not None:
            if self.last_checkpoint is None or self.last_checkpoint[1].position < self.last_entry:
                raise _Bad(
                    f"no checkpoint covers the last entry (position {self.last_entry}): the "
                    "entries after the last checkpoint are signed by nothing",
                    self.last_entry,
                )
            self.report.covered_by = self.last_checkpoint[1]


class _WalkFault(Exception):
    def __init__(self, line: int | None, position: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line, self.position, self.reason = line, position, reason


def _walk_reason(reason: str, entry_id: int | None) -> str:
    return f"(entry id {entry_id}) {reason}" if entry_id is not None else reason


class _Tracked:
    """The lines, remembering whether the last one read ended with a line break."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.whole = True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.whole = line.endswith("\n")
        return line


def _records(lines: Iterator[str]) -> tuple[ExportFormat, Iterator[tuple[int, str, Any]]]:
    first = next(lines, "")
    if first.startswith("{"):
        return ExportFormat.NDJSON, _json_lines(lines, first)
    if first.startswith("type,"):
        return ExportFormat.CSV, _csv_lines(lines, first)
    raise _Bad("neither an NDJSON nor a CSV export (the first line is not a header)")


def verify_export(
    lines: Iterable[str],
    keys: dict[str, PublishedKey],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 1000,
) -> ExportReport:
    """Check an export (NDJSON or CSV, told by its first line) line by line; ``lines`` as a
    text file gives them, with their line ends. ``progress(lines read)`` every ``every``."""
    verifier = _Verifier(keys)
    report = verifier.report
    number = 1
    try:
        tracked = _Tracked(lines)
        report.format, records = _records(tracked)
        for number, raw, document in records:
            if progress is not None and number % every == 0:
                progress(number)
            if isinstance(document, _Bad) or not isinstance(document, dict):
                if not tracked.whole:
                    raise _Bad("the file ends within this line: cut short (truncated)")
                raise document if isinstance(document, _Bad) else _Bad("not a JSON object")
            if verifier.stage == "end":
                raise _Bad("a record after the end line")
            kind = document.get("type")
            if verifier.stage == "header":
                verifier.header(document)
            elif kind == CHECKPOINT_TYPE:
                verifier.checkpoint(raw, number)
            elif kind in ("entry", "link"):
                verifier.item(document, number)
            elif kind == "end":
                verifier.end(document)
            else:
                raise _Bad(f"unknown record type {str(kind)[:40]!r}")
        if verifier.stage != "end":
            if verifier.walk is not None:
                fault = verifier.walk.finish()
                if fault is not None:
                    raise _WalkFault(
                        fault.line, fault.position, _walk_reason(fault.reason, fault.entry_id)
                    )
            raise _Bad(
                f"the file ends after line {number} without its end line: cut short (truncated)"
            )
    except _Bad as bad:
        report.fault = ExportFault(number, bad.position, bad.reason)
    except _WalkFault as bad:
        report.fault = ExportFault(bad.line, bad.position, bad.reason)
    return report
