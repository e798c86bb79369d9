"""/v1/requests/{request_id}/legal-hold: thin routes, one service call each."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.retention import legal_hold
from app.retention.schemas import LegalHoldCreate, LegalHoldState

router = APIRouter(prefix="/v1/requests", tags=["retention"])


@router.put(
    "/{request_id}/legal-hold",
    response_model=LegalHoldState,
    responses=problems.responses(403, 404, 409),
)
async def set_legal_hold(
    request_id: uuid.UUID, body: LegalHoldCreate, session: Session, actor: CurrentActor
) -> LegalHoldState:
    """Keep the request's content past the end of its retention, until the hold is lifted.
    The NCB of the sending country and the global desk may; a hold already set is left as it
    is (`changed: false`). A request already purged has nothing left to hold: 409."""
    return await legal_hold.set_hold(session, actor, request_id, body.reason)


@router.delete(
    "/{request_id}/legal-hold",
    response_model=LegalHoldState,
    responses=problems.responses(403, 404),
)
async def lift_legal_hold(
    request_id: uuid.UUID, session: Session, actor: CurrentActor
) -> LegalHoldState:
    """Lift the hold: a request past its retention is purged by the next round of the purge
    job. Lifting a hold that is not set changes nothing (`changed: false`)."""
    return await legal_hold.lift_hold(session, actor, request_id)
