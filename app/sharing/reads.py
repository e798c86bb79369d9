"""Reading a collection's objects (TAXII GET objects, an object, its versions, the manifest)
within the rules, and the status of a submission.

What a reader of a collection sees of it: its objects not purged, within the handling codes
app/sharing/visibility.py says the reader sees.

Pages follow the order objects were added, (date_added, row_id), from a position a signed
token carries (app/taxii/paging.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import audit
from app.core.errors import NotFoundError
from app.identity import policy
from app.identity.auth import Actor
from app.identity.policy import Action
from app.models import DataCollection, DataSubmission, StixObject
from app.sharing import added_order
from app.sharing.visibility import codes_seen_in
from app.taxii.filters import ALL, FIRST, LAST, Filters
from app.taxii.paging import Position


@dataclass(frozen=True, slots=True)
class Item:
    row_id: int
    stix_id: str
    version: datetime
    date_added: datetime
    object: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    more: bool

    @property
    def last(self) -> Position | None:
        if not self.items:
            return None
        return Position(self.items[-1].date_added, self.items[-1].row_id)


def _visible(actor: Actor, collection: DataCollection, row: Any) -> ColumnElement[bool]:
    """Live objects of ``collection`` (read by ``actor``: the caller checked) that ``actor``
    sees by their handling code; ``row`` is StixObject or an alias of it."""
    return and_(row.purged_at.is_(None), codes_seen_in(actor, collection, row.handling_code))


def _matching(actor: Actor, row: Any, collection: DataCollection, filters: Filters) -> list[Any]:
    conditions = [row.collection_id == collection.id, _visible(actor, collection, row)]
    if filters.types:
        conditions.append(row.type.in_(filters.types))
    if filters.ids:
        conditions.append(row.stix_id.in_(filters.ids))
    if filters.spec_versions:
        conditions.append(row.spec_version.in_(filters.spec_versions))
    return conditions


def _version_selection(
    actor: Actor, collection: DataCollection, filters: Filters
) -> ColumnElement[bool] | None:
    """match[version]: an object's version is kept if any value selects it; None: all."""
    if ALL in filters.versions:
        return None
    selected: list[ColumnElement[bool]] = []
    for value, newer in ((LAST, True), (FIRST, False)):
        if value in filters.versions:
            other = aliased(StixObject)
            beyond = (
                other.version > StixObject.version if newer else other.version < StixObject.version
            )
            selected.append(
                ~exists(
                    select(other.row_id).where(
                        other.stix_id == StixObject.stix_id,
                        beyond,
                        *_matching(actor, other, collection, filters),
                    )
                )
            )
    if filters.version_times:
        selected.append(StixObject.version.in_(filters.version_times))
    return or_(*selected) if selected else false()


async def page(
    session: AsyncSession,
    actor: Actor,
    collection: DataCollection,
    filters: Filters,
    after: Position | None,
    *,
    with_objects: bool,
    all_versions: bool = False,
) -> Page:
    conditions = _matching(actor, StixObject, collection, filters)
    if not all_versions:
        selection = _version_selection(actor, collection, filters)
        if selection is not None:
            conditions.append(selection)
    # Never past an object whose writer is still open (app/sharing/added_order.py).
    conditions.append(StixObject.date_added < await added_order.horizon(session))
    if filters.added_after is not None:
        conditions.append(StixObject.date_added > filters.added_after)
    if after is not None:
        conditions.append(
            tuple_(StixObject.date_added, StixObject.row_id)
            > tuple_(after.date_added, after.row_id)
        )
    columns = [StixObject.row_id, StixObject.stix_id, StixObject.version, StixObject.date_added]
    if with_objects:
        columns.append(StixObject.object)
    result = await session.execute(
        select(*columns)
        .where(*conditions)
        .order_by(StixObject.date_added, StixObject.row_id)
        .limit(filters.limit + 1)
    )
    rows: Sequence[Any] = result.all()
    items = [
        Item(row[0], row[1], row[2], row[3], row[4] if with_objects else None)
        for row in rows[: filters.limit]
    ]
    return Page(items, more=len(rows) > filters.limit)


async def exists_visible(
    session: AsyncSession, actor: Actor, collection: DataCollection, stix_id: str
) -> bool:
    found = await session.scalar(
        select(StixObject.row_id)
        .where(
            StixObject.collection_id == collection.id,
            StixObject.stix_id == stix_id,
            _visible(actor, collection, StixObject),
        )
        .limit(1)
    )
    return found is not None


async def record_read(
    session: AsyncSession, actor: Actor, collection: DataCollection, count: int, endpoint: str
) -> None:
    """One audit entry per page of objects read (ids and counts, no content)."""
    await audit.record(
        session,
        actor,
        "data.read",
        object_type="data_collection",
        object_id=str(collection.id),
        countries=collection.audience or [],
        details={"collection": str(collection.id), "objects": count, "endpoint": endpoint},
    )


async def get_status(
    session: AsyncSession, actor: Actor, submission_id: uuid.UUID
) -> DataSubmission:
    """A submission's status: its own agency's and the global desk's; else 404."""
    submission = await session.get(DataSubmission, submission_id)
    if submission is None or not (
        policy.permits(actor, Action.SUBMIT_DATA, submission)
        or policy.permits(actor, Action.TRIAGE_DATA)
    ):
        raise NotFoundError(f"no status {submission_id}")
    return submission


def items_of(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [item.object for item in items if item.object is not None]
