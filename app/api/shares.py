"""/v1/shared-data: member agencies' share collections, and MISP events submitted to a
collection (the REST side of app/sharing; TAXII is app/api/taxii.py)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api import problems
from app.api.deps import ActorOnly, CurrentActor, DatabaseOf, Session, SettingsOf
from app.api.taxii import read_limited
from app.core.errors import BodyTooLargeError, InvalidInputError
from app.identity.auth import ensure_still_usable
from app.models import DataCollection, DataSubmission
from app.sharing import collections, intake
from app.sharing.share_schemas import CollectionOut, ShareCreate, SubmissionStatus
from app.taxii import filters as taxii_filters
from app.taxii.errors import TaxiiError
from app.taxii.resources import API_ROOT_PATH

router = APIRouter(prefix="/v1/shared-data", tags=["shared data"])
# Read by its route against RELAY247_TAXII_MAX_CONTENT_LENGTH (app/api/body_limit.py).
STREAMED_BODY = re.compile(r"/v1/shared-data/misp-events")


def collection_out(collection: DataCollection) -> CollectionOut:
    return CollectionOut(
        id=collection.id,
        kind=collection.kind,
        title=collection.title,
        description=collection.description,
        owner_agency_id=collection.owner_agency_id,
        audience=collection.audience,
        created_at=collection.created_at,
        taxii_url=f"{API_ROOT_PATH}collections/{collection.id}/",
    )


def status_out(submission: DataSubmission) -> SubmissionStatus:
    return SubmissionStatus(
        id=submission.id,
        status=submission.status,
        request_timestamp=taxii_filters.render_timestamp(submission.created_at),
        total_count=submission.total_count,
        success_count=submission.success_count,
        failure_count=submission.failure_count,
        failures=submission.failures,
        pending_count=submission.pending_count,
    )


@router.post(
    "/collections",
    status_code=201,
    response_model=CollectionOut,
    responses=problems.responses(403),
)
async def create_share(
    body: ShareCreate, session: Session, actor: CurrentActor, response: Response
) -> CollectionOut:
    """A share collection of your agency: its units and NCB write to it (TAXII), the
    countries of ``audience`` read it (null: the whole network)."""
    created = await collections.create_share(
        session, actor, title=body.title, description=body.description, audience=body.audience
    )
    response.headers["Location"] = f"{API_ROOT_PATH}collections/{created.id}/"
    return collection_out(created)


@router.post(
    "/misp-events",
    status_code=202,
    response_model=SubmissionStatus,
    responses=problems.responses(403, 404),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def submit_misp_event(
    request: Request,
    database: DatabaseOf,
    actor: ActorOnly,
    settings: SettingsOf,
    collection: Annotated[uuid.UUID, Query(description="The collection to store it in")],
) -> SubmissionStatus:
    """A MISP event (its JSON export), converted to STIX 2.1 with misp-stix and stored as a
    TAXII bundle is: whole or not at all; the status says why of each object refused."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise InvalidInputError("send the MISP event as application/json", field="body")
    async with database.transaction() as session:
        await collections.get_writable(session, actor, collection)
    try:
        body = await read_limited(request, settings.sharing.taxii_max_content_length)
    except TaxiiError as exc:
        raise BodyTooLargeError(exc.description) from None
    async with database.transaction() as session:
        await ensure_still_usable(session, actor)
        outcome = await intake.submit_misp(session, actor, collection, body, settings.sharing)
    if outcome.submission is None:
        raise InvalidInputError(outcome.unreadable or "not a MISP event", field="body")
    return status_out(outcome.submission)
