"""/v1/shared-data/quarantine, /submissions, /…/decision: the global desk's triage of
partners' submissions, and a partner's view of its own."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.sharing import submissions, triage
from app.sharing.triage_schemas import (
    DecisionIn,
    DecisionOut,
    QueuePage,
    SubmissionOut,
    SubmissionPage,
    SubmittedObjectPage,
)

router = APIRouter(prefix="/v1/shared-data", tags=["shared data"])
Cursor = Annotated[Annotated[str, Text(max_length=512)] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
StixType = Annotated[str, Text(max_length=64)]
# Row ids are bigints; past 2**53 - 1 none exists, and an audit entry could not name it.
RowIdPath = Path(ge=1, le=2**53 - 1)


@router.get("/quarantine", response_model=QueuePage, responses=problems.responses(403))
async def quarantine(
    session: Session,
    actor: CurrentActor,
    partner_agency_id: uuid.UUID | None = None,
    submission_id: uuid.UUID | None = None,
    type: Annotated[StixType | None, Query(description="A STIX type")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> QueuePage:
    """Partners' objects waiting for the global desk, oldest first, with the counts and age
    of the whole queue (within the filters). Metadata only: GET /objects/{row_id} reads one."""
    filters = submissions.QueueFilter(partner_agency_id, submission_id, type)
    return await submissions.quarantine(session, actor, filters, cursor=cursor, limit=limit)


@router.get("/submissions", response_model=SubmissionPage, responses=problems.responses(403))
async def list_submissions(
    session: Session,
    actor: CurrentActor,
    agency_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> SubmissionPage:
    """Submissions newest first, each with where its objects stand: a partner its own, the
    global desk every one."""
    return await submissions.list_submissions(
        session, actor, agency_id=agency_id, cursor=cursor, limit=limit
    )


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    responses=problems.responses(403, 404),
)
async def get_submission(
    submission_id: uuid.UUID, session: Session, actor: CurrentActor
) -> SubmissionOut:
    return await submissions.get_submission(session, actor, submission_id)


@router.get(
    "/submissions/{submission_id}/objects",
    response_model=SubmittedObjectPage,
    responses=problems.responses(403, 404),
)
async def submission_objects(
    submission_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> SubmittedObjectPage:
    """The submission's objects with their triage outcome, the desk's note to the partner and
    the feedback sightings written back (kind, count, last seen)."""
    return await submissions.submission_objects(
        session, actor, submission_id, cursor=cursor, limit=limit
    )


@router.post(
    "/objects/{row_id}/decision",
    response_model=DecisionOut,
    responses=problems.responses(403, 404, 409),
)
async def decide_object(
    row_id: Annotated[int, RowIdPath], body: DecisionIn, session: Session, actor: CurrentActor
) -> DecisionOut:
    """Accept (copy it into the gateway, with its provenance), reject, or ask the partner for
    more. Final, but for request_info, which accept or reject may follow (409 otherwise)."""
    return await triage.decide_object(session, actor, row_id, body)


@router.post(
    "/submissions/{submission_id}/decision",
    response_model=DecisionOut,
    responses=problems.responses(403, 404, 409),
)
async def decide_submission(
    submission_id: uuid.UUID, body: DecisionIn, session: Session, actor: CurrentActor
) -> DecisionOut:
    """The decision for every object of the submission still open to it (accept, reject:
    quarantined or waiting for the partner; request_info: quarantined). 409 if none is."""
    return await triage.decide_submission(session, actor, submission_id, body)
