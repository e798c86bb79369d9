"""The query of a TAXII GET (section 3.4): ``added_after``, ``limit``, ``next`` and the
``match[...]`` filters, parsed and checked; anything malformed is a 400 TAXII error.

- ``limit``: at most RELAY247_TAXII_PAGE_MAX items a page (1000 by default), whatever a
  client asks for; more are reached with ``next``. No limit (or 0, which taxii2-client leaves
  out): that maximum.
- ``match[version]``: ``first``, ``last``, ``all`` or timestamps, comma-separated, any of them
  (an object's version is kept if it is any of these); by default ``last``.
- ``match[type]``, ``match[id]``, ``match[spec_version]``: comma-separated, any of them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from app.taxii.errors import TaxiiError

_MAX_VALUES = 100
_MAX_VALUE_LENGTH = 256
# Postgres text cannot hold NUL (the driver fails the query: a 500) and a lone surrogate is
# no character: neither can name anything stored, so either is a 400 before any query.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# RFC 3339 in UTC, strictly: datetime.fromisoformat alone takes more (a NUL before the "Z").
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?[Zz]", re.ASCII)
FIRST, LAST, ALL = "first", "last", "all"


@dataclass(frozen=True, slots=True)
class Filters:
    added_after: datetime | None
    limit: int
    next: str | None
    types: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    # "first", "last", "all" and timestamps: a version is kept if any of them selects it.
    versions: tuple[str, ...] = (LAST,)
    version_times: tuple[datetime, ...] = ()

    def query_key(self, scope: str) -> str:
        """What a ``next`` token is bound to: the endpoint's scope and every filter but
        ``next`` and ``limit`` (a client may change the page size as it goes, as
        taxii2-client does when the server sends fewer than asked)."""
        parts = [
            scope,
            self.added_after.isoformat() if self.added_after else "",
            ",".join(self.types),
            ",".join(self.ids),
            ",".join(self.spec_versions),
            ",".join(self.versions),
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def timestamp(value: str, name: str) -> datetime:
    """A TAXII/STIX timestamp (RFC 3339, UTC, ``Z``)."""
    if _TIMESTAMP.fullmatch(value) is None:
        raise _invalid(name, "must be a UTC timestamp such as 2024-01-31T12:00:00.000Z")
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        raise _invalid(name, "must be a UTC timestamp such as 2024-01-31T12:00:00.000Z") from None
    return parsed.astimezone(UTC)


def render_timestamp(value: datetime) -> str:
    """As TAXII writes date_added (microseconds, ``Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _invalid(name: str, message: str) -> TaxiiError:
    return TaxiiError(400, "Invalid filter", f"{name} {message}")


def object_id(value: str) -> str:
    """An object id from a path, refused (400) if no stored id could be it."""
    if _UNSTORABLE.search(value):
        raise _invalid("the object id", "holds a NUL or an unpaired surrogate")
    return value


def _values(query: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = query.get(name)
    if raw is None:
        return ()
    values = tuple(value.strip() for value in raw.split(",") if value.strip())
    if len(values) > _MAX_VALUES or any(len(value) > _MAX_VALUE_LENGTH for value in values):
        raise _invalid(name, f"takes at most {_MAX_VALUES} values of {_MAX_VALUE_LENGTH} chars")
    return values


def parse(
    query: Mapping[str, str], *, page_max: int, allowed: frozenset[str] = frozenset()
) -> Filters:
    """The filters of ``query``; ``allowed``: which match[...] filters the endpoint takes
    (others are a 400, not silently ignored)."""
    for name in query:
        if name.startswith("match[") and name not in allowed:
            raise _invalid(name, "is not a filter of this endpoint")
        if _UNSTORABLE.search(query[name]):
            raise _invalid(name, "holds a NUL or an unpaired surrogate")
    added_after = query.get("added_after")
    raw_limit = query.get("limit")
    limit = page_max
    if raw_limit is not None:
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if not (raw_limit.isascii() and raw_limit.isdigit()) or len(raw_limit) > 9:
            raise _invalid("limit", "must be a positive integer")
        limit = min(int(raw_limit), page_max) or page_max
    versions = _values(query, "match[version]") or (LAST,)
    version_times = tuple(
        timestamp(value, "match[version]") for value in versions if value not in (FIRST, LAST, ALL)
    )
    return Filters(
        added_after=timestamp(added_after, "added_after") if added_after is not None else None,
        limit=limit,
        next=query.get("next") or None,
        types=_values(query, "match[type]"),
        ids=_values(query, "match[id]"),
        spec_versions=_values(query, "match[spec_version]"),
        versions=versions,
        version_times=version_times,
    )
