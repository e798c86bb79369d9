"""Checking an export offline (``relay247 audit verify FILE --public-key KEY``): no database,
only the file and the public keys its checkpoints are to be signed with.

One pass over the lines, in constant memory but for the segment's checkpoints (read first):
every line strictly (export_records: exactly its RFC 8785 form, so no member twice), the
header's signature (what the file asserts beyond the chain: its filters, range and counts),
each checkpoint's signature (by one of the given keys, within its validity), every
entry's hash recomputed from its members and the hash before it, the links carrying the chain
over the entries left out, the continuity of positions (:class:`ChainWalk`), each checkpoint's
hash against the chain at its position, a checkpoint covering the last entry, no link where
the signed filters call for none, every entry whole matching the signed filters (which, with
the count of entries signed, keeps each matching entry whole: docs/audit-chain.md, "What an
entry must match"), no empty line, and the end line against the walk and the signed header
(a file cut short has none), ended by its line end and followed by nothing. It stops at the
first fault and names its line.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit.chain import GENESIS, utc_timestamp
from app.audit.checkpoints import CHECKPOINT_TYPE, Checkpoint
from app.audit.export import EXPORT_VERSION, UNSIGNED_EXPORT_VERSION, ExportFormat
from app.audit.export_records import (
    EXPORT_TYPE,
    HEX64,
    BadRecord,
    Tracked,
    entry_of,
    link_of,
    positive_int,
    records,
)
from app.audit.keys import PublishedKey, key_id_of
from app.audit.query import AuditFilter
from app.audit.verify import ChainWalk, checkpoint_fault
from app.core.canonical import jcs

_Bad = BadRecord


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
    version: int | None = None
    signed_at: datetime | None = None  # the header's signature, for version 2 on
    key_id: str | None = None
    fault: ExportFault | None = None


# The filters an export may state (app.audit.query.AuditFilter.described()).
FILTER_NAMES = frozenset(
    {"since", "until", "country", "agency_id", "principal_id", "request_id", "action"}
)
_SIGNED_HEADER = frozenset(
    {
        "type",
        "v",
        "filters",
        "first_position",
        "previous_hash",
        "last_position",
        "last_hash",
        "entries",
        "links",
        "checkpoints",
        "signed_at",
        "key_id",
        "signature",
    }
)
UNSIGNED_REFUSED = (
    f"a version {UNSIGNED_EXPORT_VERSION} export: its header (filters, first position, previous "
    "hash) and its end line are not signed, so entries replaced by links, a start moved on, a "
    "tail cut off with the end line rewritten, or filters forged cannot be told from what the "
    "service wrote; export it again (version 2 is signed), or check what version 1 can prove "
    "with --accept-unsigned-v1"
)


@dataclass(frozen=True, slots=True)
class _Signed:
    """What a version 2 header's signature states about the rest of the file."""

    last_position: int | None
    last_hash: str | None
    entries: int
    links: int
    checkpoints: int


def _count(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Bad(f"{name} is not a count")
    return value


def _header_signature(document: dict[str, Any], keys: dict[str, PublishedKey]) -> datetime:
    """The header's signing time, once its signature holds under one of ``keys``."""
    key_id, signed_at, signature = (
        document["key_id"],
        document["signed_at"],
        document["signature"],
    )
    key = keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        raise _Bad(
            f"the header is signed by key {str(key_id)[:64]}, which is none of the keys given "
            "(--public-key)"
        )
    if key_id_of(key.public_key) != key.key_id:
        raise _Bad(f"the public key given for key {key.key_id} is not the key of that id")
    try:
        moment = datetime.fromisoformat(signed_at)
        raw = base64.b64decode(signature, validate=True)
    except (TypeError, ValueError, binascii.Error):
        raise _Bad("the header's signed_at or signature is malformed") from None
    if moment.tzinfo is None or utc_timestamp(moment) != signed_at:
        raise _Bad("the header's signed_at is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    unsigned = {name: value for name, value in document.items() if name != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw, jcs(unsigned))
    except (InvalidSignature, ValueError):
        raise _Bad(
            f"the header's signature does not verify under key {key.key_id}: the header (its "
            "filters, range or counts) was changed after the service signed it, or another "
            "key signed it"
        ) from None
    if not key.valid_at(moment):
        until = utc_timestamp(key.retired_at) if key.retired_at else "now"
        raise _Bad(
            f"the header was signed at {signed_at}, outside the validity of key {key.key_id} "
            f"({utc_timestamp(key.valid_from)} to {until})"
        )
    return moment


def _filters(value: Any) -> AuditFilter:
    if isinstance(value, dict) and all(
        name in FILTER_NAMES and isinstance(item, str) for name, item in value.items()
    ):
        try:
            return AuditFilter.from_described(value)
        except ValueError:
            pass
    raise _Bad(f"the header's filters are not those of an export ({sorted(FILTER_NAMES)})")


class _Verifier:
    def __init__(self, keys: dict[str, PublishedKey], *, accept_unsigned: bool) -> None:
        self.keys = keys
        self.accept_unsigned = accept_unsigned
        self.report = ExportReport()
        self.walk: ChainWalk | None = None
        self.signed: dict[int, list[tuple[int, Checkpoint]]] = {}
        self.last_checkpoint: tuple[int, Checkpoint] | None = None
        self.last_entry: int | None = None
        self.stage = "header"  # header, body, end
        self.header_signs: _Signed | None = None  # None: version 1, nothing signed
        # The signed filters every whole entry must match; None: unfiltered, or version 1
        # (whose filters are anybody's to rewrite).
        self.selects: AuditFilter | None = None

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
        if not (isinstance(document, dict) and document.get("type") == EXPORT_TYPE):
            raise _Bad(f"not a {EXPORT_TYPE} header")
        version = document.get("v")
        if version == UNSIGNED_EXPORT_VERSION and not self.accept_unsigned:
            raise _Bad(UNSIGNED_REFUSED)
        if version not in (EXPORT_VERSION, UNSIGNED_EXPORT_VERSION):
            raise _Bad(f"an export of an unknown version ({str(version)[:20]})")
        self.report.version = version
        if version == EXPORT_VERSION:
            self._signed_header(document)
        first, previous = document.get("first_position"), document.get("previous_hash")
        filters = document.get("filters")
        self.report.filters = filters if isinstance(filters, dict) else {}
        self.stage = "body"
        if first is None and previous is None:
            return  # nothing matched: an empty export
        first = positive_int(first, "first_position")
        if not isinstance(previous, str) or not HEX64.match(previous):
            raise _Bad("previous_hash is not a SHA-256 in lowercase hex")
        if first == 1 and previous != GENESIS.hex():
            raise _Bad("previous_hash of position 1 must be the genesis (64 zeros)", 1)
        self.report.first_position = first
        self.walk = ChainWalk(
            previous_hash=bytes.fromhex(previous), first_position=first, on_hash=self._on_hash
        )

    def _signed_header(self, document: dict[str, Any]) -> None:
        if document.keys() != _SIGNED_HEADER:
            missing = sorted(_SIGNED_HEADER - document.keys())
            extra = sorted(document.keys() - _SIGNED_HEADER)
            raise _Bad(f"not an export header: missing {missing}, unexpected {extra}")
        self.report.signed_at = _header_signature(document, self.keys)
        self.report.key_id = document["key_id"]
        selects = _filters(document["filters"])
        self.selects = selects if document["filters"] else None
        last, last_hash = document["last_position"], document["last_hash"]
        empty = document["first_position"] is None
        if empty != (last is None) or empty != (last_hash is None):
            raise _Bad("the header's range is neither empty nor whole")
        if not empty:
            last = positive_int(last, "last_position")
            if not isinstance(last_hash, str) or not HEX64.match(last_hash):
                raise _Bad("last_hash is not a SHA-256 in lowercase hex")
        self.header_signs = _Signed(
            last,
            last_hash,
            _count(document["entries"], "entries"),
            _count(document["links"], "links"),
            _count(document["checkpoints"], "checkpoints"),
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
        item = entry_of(document, line) if kind == "entry" else link_of(document, line)
        signs = self.header_signs
        if signs is not None:
            if kind == "link" and not self.report.filters:
                raise _Bad(
                    "a link in an unfiltered export: its signed filters are none, so every "
                    "position of the segment is an entry whole (an entry was replaced by its link)",
                    item.chain_position,
                )
            if signs.last_position is not None and item.chain_position > signs.last_position:
                raise _Bad(
                    f"beyond the last position the header signs ({signs.last_position})",
                    item.chain_position,
                )
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
        if kind == "entry" and self.selects is not None:
            # With the count of entries signed, this is what keeps every matching entry
            # whole: hiding one as its link takes an entry whole elsewhere to keep the count,
            # and any other entry of the segment is one the filters leave out.
            refused = self.selects.refused_by(document)
            if refused is not None:
                raise _Bad(
                    f"an entry the signed filters leave out ({refused}): an export holds "
                    "whole only the entries its filters select, so this one stands where the "
                    "service wrote a link (and an entry it selected was hidden as its link, or "
                    "the file was rewritten)",
                    item.chain_position,
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
        self._as_signed()
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

    def _as_signed(self) -> None:
        signs, report = self.header_signs, self.report
        if signs is None:
            return
        found = _Signed(
            report.last_position, report.last_hash, report.entries, report.links, report.checkpoints
        )
        if found != signs:
            differ = [
                f"{name} {getattr(found, name)} where it signs {getattr(signs, name)}"
                for name in _Signed.__slots__
                if getattr(found, name) != getattr(signs, name)
            ]
            raise _Bad(
                f"the export is not the one its header signs ({'; '.join(differ)}): records "
                "were cut off, added, or replaced by links, and the end line rewritten"
            )


class _WalkFault(Exception):
    def __init__(self, line: int | None, position: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line, self.position, self.reason = line, position, reason


def _walk_reason(reason: str, entry_id: int | None) -> str:
    return f"(entry id {entry_id}) {reason}" if entry_id is not None else reason


def verify_export(
    lines: Iterable[str],
    keys: dict[str, PublishedKey],
    *,
    accept_unsigned: bool = False,
    progress: Callable[[int], None] | None = None,
    every: int = 1000,
) -> ExportReport:
    """Check an export (NDJSON or CSV, told by its first line) line by line; ``lines`` as a
    text file gives them, with their line ends. ``accept_unsigned``: check a version 1 export
    (unsigned header) for what it can prove rather than refuse it. ``progress(lines read)``
    every ``every``."""
    verifier = _Verifier(keys, accept_unsigned=accept_unsigned)
    report = verifier.report
    number = 1
    try:
        tracked = Tracked(lines)
        kind_of_file, found = records(tracked)
        report.format = ExportFormat(kind_of_file)
        for number, raw, document in found:
            if progress is not None and number % every == 0:
                progress(number)
            if verifier.stage == "end":
                raise _Bad("a line after the end line: nothing follows it, not even an empty line")
            if isinstance(document, _Bad) or not isinstance(document, dict):
                if not tracked.whole:
                    raise _Bad("the file ends within this line: cut short (truncated)")
                raise document if isinstance(document, _Bad) else _Bad("not a JSON object")
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
        if not tracked.whole:
            raise _Bad("the end line has no line end: every line of an export ends with \\n")
    except _Bad as bad:
        report.fault = ExportFault(number, bad.position, bad.reason)
    except _WalkFault as bad:
        report.fault = ExportFault(bad.line, bad.position, bad.reason)
    return report
