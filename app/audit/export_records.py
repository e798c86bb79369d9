"""Reading an export's lines as records, strictly (docs/audit-chain.md, "Exports"): the
NDJSON file line by line, the CSV row by row, each as the JSON object it stands for.

Strict because a verifier that reads a line one way while another reader reads it another
way verifies nothing: a line holding one member twice (``"action"`` twice) is one entry to a
last-wins reader (Python's, whose hash then holds) and another to a first-wins one. So every
JSON text of an export must be exactly the RFC 8785 form of the object it parses to: no
member twice, no whitespace, no other escape or number form, no NaN. The service writes
nothing else, and a line that is its own canonical form reads the same in every reader.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from app.audit.chain import ENTRY_MEMBERS, FORMAT_VERSION, LEGACY_FORMAT, in_fast_subset
from app.audit.checkpoints import CHECKPOINT_TYPE
from app.audit.verify import ExportedEntry, Link
from app.core.canonical import jcs

EXPORT_TYPE = "relay247.audit.export"

# The CSV's columns, in this order. An entry fills those of its canonical form; a link type,
# v (format 1 only), position and digest; the header, each checkpoint and the end line carry
# their NDJSON line in ``record``.
CSV_COLUMNS = (
    "type",
    *ENTRY_MEMBERS[:-1],
    "countries",
    ENTRY_MEMBERS[-1],  # details
    "hash",
    "digest",
    "record",
)
# Nullable members of an entry: an empty cell is null (none of them ever holds "").
CSV_NULLABLE = frozenset(
    {
        "actor_principal_id",
        "actor_agency_id",
        "actor_role",
        "actor_country",
        "remote_addr",
        "content_hash",
    }
)
_ENTRY_CELLS = frozenset(CSV_COLUMNS) - {"digest", "record"}
_LINK_CELLS = frozenset({"type", "v", "position", "digest"})
_WHOLE_CELLS = frozenset({"type", "record"})
_ENTRY_MEMBERS = frozenset(ENTRY_MEMBERS)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# The members of an entry holding a string or null.
_TEXT_MEMBERS = tuple(sorted(_ENTRY_MEMBERS - {"v", "position", "id", "details"}))
_MEMBERS_OF = {
    LEGACY_FORMAT: _ENTRY_MEMBERS,
    FORMAT_VERSION: _ENTRY_MEMBERS | {"countries"},
}
# A format 2 link as the service writes it; any other line of a link is checked the slow way.
_LINK_LINE = re.compile(r'\{"digest":"[0-9a-f]{64}","position":[1-9][0-9]{0,15},"type":"link"\}')
_DECIMAL = re.compile(r"0|-?[1-9][0-9]*")


class BadRecord(Exception):
    """A line that is not what it should be (caught by the verifier: the first fault)."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


# Every line of an export is a record: one that is empty is something else the file holds.
EMPTY_LINE = BadRecord("an empty line: every line of an export is a record, none is empty")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for index, name in enumerate(names) if name in names[:index])
        raise BadRecord(
            f"the member {twice[:40]!r} appears twice in one object: readers differ on which "
            "value counts (RFC 8259 section 4), so an export never holds one"
        )
    return document


def _no_constant(name: str) -> Any:
    raise BadRecord(f"{name} is not a JSON number (RFC 8259), and never in an export")


def strict_loads(text: str) -> Any:
    """JSON refusing a member twice and NaN/Infinity (BadRecord); None when not JSON."""
    try:
        return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except json.JSONDecodeError:
        return None


def require_canonical(text: str, document: Any, what: str = "the line") -> None:
    """``text`` must be the RFC 8785 bytes of ``document`` (which it was parsed to)."""
    if document.get("type") == "link" and _LINK_LINE.fullmatch(text):
        return
    try:
        canonical = jcs(document).decode()
    except Exception:  # the rfc8785 package's errors: a value RFC 8785 cannot carry
        canonical = None
    if canonical == text:
        return
    strict_loads(text)  # names a member given twice, or NaN, if that is why
    if canonical is None:
        raise BadRecord(f"{what} holds a value RFC 8785 cannot carry (an integer beyond 2^53?)")
    raise BadRecord(
        f"{what} is not in its RFC 8785 form (every JSON text of an export is: keys sorted, "
        "no whitespace, the shortest number and escape forms)"
    )


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _json_lines(lines: Iterator[str], first: str) -> Iterator[tuple[int, str, Any]]:
    """(line number, the line without its line end, the object, or None when not JSON, or
    the BadRecord saying why it is not what an export holds)."""
    number = 1
    for line in _chain_first(first, lines):
        text = line[:-1] if line.endswith("\n") else line
        document = _loads(text) if text else EMPTY_LINE
        if isinstance(document, dict):
            try:
                require_canonical(text, document)
            except BadRecord as bad:
                document = bad
        yield number, text, document
        number += 1


def _chain_first(first: str, lines: Iterator[str]) -> Iterator[str]:
    yield first
    yield from lines


def _integer(cell: str, name: str) -> int:
    if not _DECIMAL.fullmatch(cell):
        raise BadRecord(f"{name} is not an integer in decimal without a sign or leading zero")
    return int(cell)


def _json_cell(cell: str, name: str) -> Any:
    value = strict_loads(cell)
    if value is None and cell != "null":
        raise BadRecord(f"{name} is not JSON")
    try:
        canonical = jcs(value).decode()
    except Exception:  # the rfc8785 package's errors
        raise BadRecord(f"{name} holds a value RFC 8785 cannot carry") from None
    if canonical != cell:
        raise BadRecord(f"{name} is not in its RFC 8785 form")
    return value


def _csv_cell(name: str, value: str) -> Any:
    if name in CSV_NULLABLE and value == "":
        return None
    return value


def _csv_entry(row: dict[str, str]) -> dict[str, Any]:
    version = _integer(row["v"], "v")
    document: dict[str, Any] = {
        "v": version,
        "position": _integer(row["position"], "position"),
        "id": _integer(row["id"], "id"),
        "details": _json_cell(row["details"], "details"),
    }
    if version != LEGACY_FORMAT:
        document["countries"] = _json_cell(row["countries"], "countries")
    elif row["countries"]:
        raise BadRecord("a format 1 entry has no countries")
    for name in _ENTRY_MEMBERS - document.keys():
        document[name] = _csv_cell(name, row[name])
    document["hash"] = row["hash"]
    document["type"] = "entry"
    return document


def _only(cells: dict[str, str], used: frozenset[str]) -> None:
    filled = sorted(name for name, cell in cells.items() if cell and name not in used)
    if filled:
        raise BadRecord(
            f"a {cells['type'][:40]} row fills {', '.join(filled)}, which it never holds"
        )


def _csv_record(row: list[str]) -> Any:
    if len(row) != len(CSV_COLUMNS):
        raise BadRecord(f"{len(row)} columns, not the {len(CSV_COLUMNS)} of an export")
    cells = dict(zip(CSV_COLUMNS, row, strict=True))
    kind = cells["type"]
    if kind in (EXPORT_TYPE, CHECKPOINT_TYPE, "end"):
        _only(cells, _WHOLE_CELLS)
        document = _loads(cells["record"])
        if isinstance(document, dict):
            require_canonical(cells["record"], document, "its record")
        return document
    if kind == "entry":
        _only(cells, _ENTRY_CELLS)
        return _csv_entry(cells)
    if kind == "link":
        _only(cells, _LINK_CELLS)
        position = _integer(cells["position"], "position")
        if cells["v"]:
            return {"type": "link", "position": position, "v": _integer(cells["v"], "v")}
        return {"type": "link", "position": position, "digest": cells["digest"]}
    raise BadRecord(f"unknown record type {kind[:40]!r}")


class _Taken:
    """The lines, keeping those the CSV reader took for its current row."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def row_text(self) -> str:
        text = "".join(self.taken)
        self.taken.clear()
        return text


def _as_written(row: list[str]) -> str:
    """The row as the export writes it (csv's minimal quoting, a \\n line end)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()


def _written_so(text: str, row: list[str]) -> bool:
    # A last line without its line end is the verifier's to name (the end line's).
    return (text if text.endswith("\n") else text + "\n") == _as_written(row)


def _csv_lines(lines: Iterator[str], first: str) -> Iterator[tuple[int, str, Any]]:
    """Rows byte for byte as the export writes them: a reader that also takes a \\r\\n line
    end, or quotes where none are needed, would verify bytes the service never wrote."""
    taken = _Taken(_chain_first(first, lines))
    reader = csv.reader(taken)
    header = next(reader)
    if tuple(header) != CSV_COLUMNS or not _written_so(taken.row_text(), header):
        raise BadRecord("the CSV's header row is not an export's (its columns, as it writes them)")
    for row in reader:
        text = taken.row_text()
        if not row:
            yield reader.line_num, "", EMPTY_LINE
            continue
        try:
            if not _written_so(text, row):
                raise BadRecord(
                    "the row is not written as an export writes it (RFC 4180, quotes only "
                    "where a cell needs them, \\n line ends)"
                )
            record = _csv_record(row)
        except BadRecord as bad:
            yield reader.line_num, "", bad
            continue
        raw = row[-1] if row[0] in (CHECKPOINT_TYPE, EXPORT_TYPE) else ""
        yield reader.line_num, raw, record


def positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRecord(f"{name} is not a positive integer")
    return value


def entry_of(document: dict[str, Any], line: int) -> ExportedEntry:
    chain_hash = document.pop("hash", None)
    version = document.get("v")
    position = document.get("position")
    where = position if isinstance(position, int) else None
    expected = _MEMBERS_OF.get(version)  # type: ignore[arg-type]
    if expected is None:
        raise BadRecord(f"an entry of an unknown format (v {version!r})", where)
    if document.keys() != expected:
        missing, extra = sorted(expected - set(document)), sorted(set(document) - expected)
        raise BadRecord(
            f"not an entry of format {version}: missing {missing}, unexpected {extra}", where
        )
    if not isinstance(chain_hash, str):
        raise BadRecord("an entry without its hash", where)
    position, entry_id = positive_int(position, "position"), positive_int(document["id"], "id")
    try:
        sealed_at = datetime.fromisoformat(document["sealed_at"])
    except (TypeError, ValueError):
        raise BadRecord("sealed_at is not a time", where) from None
    # Strings, null and lists of strings everywhere but details: the stdlib's encoder writes
    # RFC 8785 then, if details allow it too (chain.in_fast_subset).
    fast = (version == LEGACY_FORMAT or _strings(document["countries"])) and all(
        document[name] is None or type(document[name]) is str for name in _TEXT_MEMBERS
    )
    try:
        canonical = jcs(document, checked=fast and in_fast_subset(document))
    except Exception as exc:  # the rfc8785 package's errors: a value RFC 8785 cannot carry
        raise BadRecord(f"a member RFC 8785 cannot carry ({type(exc).__name__})", where) from None
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


def link_of(document: dict[str, Any], line: int) -> Link:
    position = positive_int(document.get("position"), "position")
    if document == {"position": position, "v": LEGACY_FORMAT}:
        return Link(position, None, line)
    digest = document.get("digest")
    if set(document) != {"position", "digest"} or not isinstance(digest, str):
        raise BadRecord("a link is {position, digest} or, format 1, {position, v: 1}", position)
    if not HEX64.match(digest):
        raise BadRecord("its digest is not a SHA-256 in lowercase hex", position)
    return Link(position, bytes.fromhex(digest), line)


# --- the walk ---------------------------------------------------------------------------------


class Tracked:
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


def records(lines: Iterator[str]) -> tuple[str, Iterator[tuple[int, str, Any]]]:
    """The format ("ndjson" or "csv", told by the first line) and its records: (line number,
    the raw JSON of a header or checkpoint, the object or a BadRecord)."""
    first = next(lines, "")
    if first.startswith("{"):
        return "ndjson", _json_lines(lines, first)
    if first.startswith("type,"):
        return "csv", _csv_lines(lines, first)
    raise BadRecord("neither an NDJSON nor a CSV export (the first line is not a header)")
