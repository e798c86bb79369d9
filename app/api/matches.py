"""/v1/requests/{request_id}/matches: shared data carrying a request's identifiers. Thin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.matching import shown
from app.matching.schemas import MatchPage

router = APIRouter(prefix="/v1/requests", tags=["matches"])


@router.get(
    "/{request_id}/matches", response_model=MatchPage, responses=problems.responses(403, 404)
)
async def list_matches(
    request_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> MatchPage:
    """Shared objects (the gateway's partner data, member countries' shares) that carry one
    of the request's identifiers, for who may read the request's content (403 otherwise:
    auditors read none): only the objects the caller may also read (its collection reaches
    the caller; TLP:AMBER+STRICT and RED only for the submitting agency and the global desk;
    never purged ones), each with the TAXII URL to follow, and per identifier how many shared
    reports carry it. Each page showing any is an audited read (`match.shown`)."""
    return await shown.matches_of(session, actor, request_id, cursor=cursor, limit=limit)
