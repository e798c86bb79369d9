"""Whether each object of a bundle may be stored: the one judgement the intake makes, whether
it writes the bundle (object by object, as each chunk is prepared) or lists why it refused it.

An object is refused for a STIX problem (app/stix/validation.py), by the submitter's terms
(app/sharing/partner_terms.py), or by a conflict: the same id and version twice in the bundle
with other content (both are refused), or an id and version already stored in the collection
with other content. The same object again, in the bundle or stored, is no refusal: it is
skipped (nothing to write), so a re-sent bundle is idempotent. An object without ``modified``
or ``created`` (an SCO) is the same object if a stored version of its id has the same content;
otherwise it is a new version, dated when it is added.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.sharing import partner_terms
from app.sharing.bundle_rows import Candidate

CONFLICT_IN_BUNDLE = "conflicts with another object of this bundle with the same id and version"
CONFLICT_STORED = "conflicts with the stored version of this id and version"

# (version, object_hash) of each stored version of an id in the collection.
StoredVersions = dict[str, list[tuple[datetime, str]]]


# Each wanted id is one probe of the (collection_id, stix_id, version) key. OFFSET 0 keeps the
# probe a probe: joined plainly, a collection whose statistics lag a bulk intake (one that
# has just grown from nothing to 300,000 rows) was planned as a hash of the whole collection,
# each bundle reading more than the last (400 ms a bundle at 300,000 rows).
_STORED_VERSIONS = text(
    """
    SELECT found.stix_id, found.version, found.object_hash
    FROM unnest(CAST(:ids AS text[])) AS wanted(stix_id)
    CROSS JOIN LATERAL (
        SELECT stix_id, version, object_hash FROM stix_objects
        WHERE collection_id = :collection_id AND stix_id = wanted.stix_id
        OFFSET 0
    ) AS found
    """
).columns(stix_id=String, version=DateTime(timezone=True), object_hash=String)


async def stored_versions(
    session: AsyncSession,
    collection_id: uuid.UUID,
    objects: Iterable[dict[str, Any]],
    *,
    unversioned_only: bool = False,
) -> StoredVersions:
    """One query for every stored version of the bundle's ids in the collection (with
    ``unversioned_only``, of the ids of its objects without ``modified`` nor ``created``:
    the versioned ones the store's unique key checks as they are written, see
    app/sharing/bundle_rows.py AlreadyStored)."""
    ids = list(
        {
            obj["id"]
            for obj in objects
            if _storable_id(obj.get("id")) and not (unversioned_only and _versioned(obj))
        }
    )
    if not ids:
        return {}
    result = await session.execute(_STORED_VERSIONS, {"ids": ids, "collection_id": collection_id})
    stored: StoredVersions = {}
    for stix_id, version, object_hash in result:
        stored.setdefault(stix_id, []).append((version, object_hash))
    return stored


def _versioned(obj: dict[str, Any]) -> bool:
    """Whether the object names its version (as Candidate.version reads it)."""
    return isinstance(obj.get("modified") or obj.get("created"), str)


def _storable_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 128


@dataclass(slots=True)
class Judge:
    """Judges a bundle's objects in order, each once (it remembers the ones before)."""

    terms: partner_terms.Terms
    stored: StoredVersions
    _seen: dict[tuple[str, datetime | None], tuple[int, str]] = field(default_factory=dict)
    # The earlier object of each in-bundle conflict: refused too.
    conflicting: set[int] = field(default_factory=set)

    def __call__(self, index: int, row: Candidate) -> str | None:
        """Why the object at ``index`` is refused, if it is; sets its handling code, and
        ``skip`` when it is the same object again."""
        if row.problem is not None:
            return row.problem
        refusal, row.handling = partner_terms.object_refusal(self.terms, row.obj, row.marked)
        if refusal is not None:
            return refusal
        first, first_hash = self._seen.setdefault(
            (row.stix_id, row.version), (index, row.object_hash)
        )
        if first != index:
            if first_hash == row.object_hash:
                row.skip = True
                return None
            self.conflicting.add(first)
            return CONFLICT_IN_BUNDLE
        return self._against_store(row)

    def _against_store(self, row: Candidate) -> str | None:
        versions = self.stored.get(row.stix_id)
        if not versions:
            return None
        if row.version is None:
            row.skip = any(object_hash == row.object_hash for _, object_hash in versions)
            return None
        for version, object_hash in versions:
            if version == row.version:
                if object_hash != row.object_hash:
                    return CONFLICT_STORED
                row.skip = True
        return None


def refusals(judge: Judge, candidates: Sequence[Candidate]) -> dict[int, str]:
    """Every refused object of a whole bundle, by its index, with the reason."""
    failures = {
        index: reason
        for index, row in enumerate(candidates)
        if (reason := judge(index, row)) is not None
    }
    for index in judge.conflicting:
        failures[index] = CONFLICT_IN_BUNDLE
    return failures
