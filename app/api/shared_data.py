"""/v1/shared-data/objects: reading stored objects, feedback to partners, legal holds."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.models.enums import Feedback, IdentifierKind
from app.sharing import feedback, retention, search
from app.sharing.retention_schemas import ObjectHoldState
from app.sharing.triage_schemas import StoredObject, StoredObjectPage

router = APIRouter(prefix="/v1/shared-data/objects", tags=["shared data"])
RowId = Annotated[int, Path(ge=1, le=2**53 - 1)]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Feedback


@router.get("", response_model=StoredObjectPage, responses=problems.responses(403))
async def search_objects(
    session: Session,
    actor: CurrentActor,
    value: Annotated[
        Annotated[str, Text(min_length=1, max_length=2048)] | None,
        Query(description="An identifier (an address, a domain, a hash…), normalized"),
    ] = None,
    kind: Annotated[IdentifierKind | None, Query(description="The value's kind")] = None,
    stix_id: Annotated[Annotated[str, Text(max_length=128)] | None, Query()] = None,
    type: Annotated[Annotated[str, Text(max_length=64)] | None, Query()] = None,
    collection_id: uuid.UUID | None = None,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> StoredObjectPage:
    """Stored objects you may read (the gateway and the shares naming your country; a
    partner its inbox; the global desk all), newest first. Reading them is audited."""
    filters = search.SearchFilter(value, kind, stix_id, type, collection_id)
    return await search.search(session, actor, filters, cursor=cursor, limit=limit)


@router.get("/{row_id}", response_model=StoredObject, responses=problems.responses(403, 404))
async def get_object(row_id: RowId, session: Session, actor: CurrentActor) -> StoredObject:
    """One stored object with its content (null once purged): an audited read."""
    return await search.get_object(session, actor, row_id)


@router.post(
    "/{row_id}/feedback",
    status_code=201,
    responses=problems.responses(403, 404, 409),
)
async def give_feedback(
    row_id: RowId, body: FeedbackIn, session: Session, actor: CurrentActor
) -> dict[str, Any]:
    """Tell the partner what became of its accepted object (`seen`, `false_positive`,
    `expired`): a STIX sighting in its inbox, which it reads over TAXII. Give the accepted
    copy's row or the partner's. The global desk any kind; a member country's unit, desk or
    NCB that reads the object `seen` or `false_positive`. Answers the sighting written."""
    return await feedback.give_feedback(session, actor, row_id, body.kind)


@router.put(
    "/{row_id}/legal-hold",
    response_model=ObjectHoldState,
    responses=problems.responses(403, 404, 409),
)
async def set_legal_hold(row_id: RowId, session: Session, actor: CurrentActor) -> ObjectHoldState:
    """Keep the object past the end of its retention until the hold is lifted (the global
    desk). Already held: `changed: false`. Purged: 409."""
    return await retention.set_hold(session, actor, row_id)


@router.delete(
    "/{row_id}/legal-hold",
    response_model=ObjectHoldState,
    responses=problems.responses(403, 404),
)
async def lift_legal_hold(row_id: RowId, session: Session, actor: CurrentActor) -> ObjectHoldState:
    """Let the retention run again: an object past it is purged by the next round."""
    return await retention.lift_hold(session, actor, row_id)
