"""Reading stored objects over REST: one object with its content, and a search of what the
reader may read by identifier value, STIX id, type or collection (app/sharing/visibility.py
decides what each may read). Every read of content is audited ("data.read"): one entry per
object read alone, one per page of a search that showed any.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import InvalidInputError, NotFoundError
from app.core.pagination import SequenceCursor
from app.identity import policy
from app.identity.auth import Actor
from app.models import DataCollection, IndicatorValue, StixObject
from app.models.enums import IdentifierKind
from app.sharing.triage_schemas import StoredObject, StoredObjectPage
from app.sharing.visibility import readable_objects
from app.stix.identifiers import normalize

OBJECT_TYPE = "stix_object"


def _view(row: StixObject, kind: str) -> StoredObject:
    return StoredObject(
        row_id=row.row_id,
        collection_id=row.collection_id,
        collection_kind=kind,
        submission_id=row.submission_id,
        origin=row.origin.value,
        source_row_id=row.source_row_id,
        stix_id=row.stix_id,
        type=row.type,
        version=row.version,
        date_added=row.date_added,
        handling_code=row.handling_code,
        triage=row.triage,
        object_hash=row.object_hash,
        object=row.object,
        purge_after=row.purge_after,
        purged_at=row.purged_at,
        legal_hold_at=row.legal_hold_at,
    )


def _readable_rows(actor: Actor) -> Any:
    policy.require(actor, policy.Action.READ_SHARED_DATA)
    return (
        select(StixObject, DataCollection.kind)
        .join(DataCollection, DataCollection.id == StixObject.collection_id)
        .where(readable_objects(actor))
    )


async def get_object(session: AsyncSession, actor: Actor, row_id: int) -> StoredObject:
    found = (
        await session.execute(_readable_rows(actor).where(StixObject.row_id == row_id))
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"no shared object {row_id} that you may see")
    row, kind = found
    if row.object is not None:
        await audit.record(
            session,
            actor,
            "data.read",
            object_type=OBJECT_TYPE,
            object_id=str(row.row_id),
            countries=(),
            content_hash=row.object_hash,
            details={"collection_id": str(row.collection_id), "objects": 1},
        )
    return _view(row, kind.value)


@dataclass(frozen=True, slots=True)
class SearchFilter:
    value: str | None = None  # an identifier, normalized as each kind is
    kind: IdentifierKind | None = None
    stix_id: str | None = None
    type: str | None = None
    collection_id: uuid.UUID | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        s = StixObject
        clauses: list[ColumnElement[bool]] = []
        if self.value is not None:
            kinds = [self.kind] if self.kind else list(IdentifierKind)
            forms = [(k, n) for k in kinds if (n := normalize(k, self.value)) is not None]
            if not forms:
                raise InvalidInputError(
                    "is not an identifier of any kind relay247 matches"
                    + (f" (as {self.kind.value})" if self.kind else ""),
                    field="value",
                )
            v = IndicatorValue
            clauses.append(
                exists().where(
                    v.object_row_id == s.row_id,
                    or_(*((v.kind == k) & (v.value == n) for k, n in forms)),
                )
            )
        if self.stix_id is not None:
            clauses.append(s.stix_id == self.stix_id)
        if self.type is not None:
            clauses.append(s.type == self.type)
        if self.collection_id is not None:
            clauses.append(s.collection_id == self.collection_id)
        return clauses


async def search(
    session: AsyncSession, actor: Actor, filters: SearchFilter, *, cursor: str | None, limit: int
) -> StoredObjectPage:
    """What the reader may read and the filters name, newest first (by row)."""
    s = StixObject
    query = _readable_rows(actor).where(*filters.clauses())
    if cursor is not None:
        query = query.where(s.row_id < SequenceCursor.decode(cursor).last_id)
    rows = (await session.execute(query.order_by(s.row_id.desc()).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    shown = [row for row, _ in page if row.object is not None]
    if shown:
        await audit.record(
            session,
            actor,
            "data.read",
            object_type=OBJECT_TYPE,
            object_id=str(shown[0].row_id),
            countries=(),
            details={
                "objects": len(shown),
                "row_ids": [row.row_id for row in shown],
                "collections": sorted({str(row.collection_id) for row in shown}),
            },
        )
    return StoredObjectPage(
        items=[_view(row, kind.value) for row, kind in page],
        next_cursor=SequenceCursor(page[-1][0].row_id).encode() if more else None,
    )
