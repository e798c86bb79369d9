"""/v1/requests: thin routes, one service call each."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.models.enums import Priority, RequestStatus, RequestType
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.schemas.primitives import CountryCode, Instant, Text
from app.schemas.requests import (
    AckOut,
    AssignmentCreate,
    AssignmentOut,
    RequestCreate,
    RequestOut,
    RequestPage,
    SubmittedRequest,
)
from app.services import assignment
from app.services import requests as request_service

router = APIRouter(prefix="/v1/requests", tags=["requests"])

IdempotencyKey = Annotated[
    Annotated[str, Text(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")] | None,
    Header(
        alias="Idempotency-Key",
        description="Retry-safe submission: the same key and body give the first answer again",
    ),
]


@router.post(
    "", status_code=201, response_model=SubmittedRequest, responses=problems.responses(403, 409)
)
async def submit_request(
    body: RequestCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SubmittedRequest:
    """Submit a request to another country's 24/7 desk, within the sending agency's access
    agreements (else 403, with the `reason`). It goes to the desk's on-duty primary, or to the
    whole desk and its NCB when nobody is on duty (`assigned_to`, `assignment`). `warnings`
    says what the sender should know about how the desk can handle this type. A replay of an
    Idempotency-Key gives the first answer again, with the header `Idempotent-Replayed: true`."""
    submission = await request_service.submit(session, actor, body, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/v1/requests/{submission.request.id}"
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return submission.request


@router.get("", response_model=RequestPage)
async def list_requests(
    session: Session,
    actor: CurrentActor,
    status: Annotated[list[RequestStatus] | None, Query()] = None,
    type: Annotated[list[RequestType] | None, Query()] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    target_country: CountryCode | None = None,
    requesting_country: CountryCode | None = None,
    created_after: Instant | None = None,
    created_before: Instant | None = None,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> RequestPage:
    filters = request_service.RequestFilter(
        statuses=status or [],
        types=type or [],
        priorities=priority or [],
        target_country=target_country,
        requesting_country=requesting_country,
        created_after=created_after,
        created_before=created_before,
    )
    return await request_service.list_requests(session, actor, filters, cursor=cursor, limit=limit)


@router.get("/{request_id}", response_model=RequestOut, responses=problems.responses(404))
async def get_request(request_id: uuid.UUID, session: Session, actor: CurrentActor) -> RequestOut:
    return await request_service.get(session, actor, request_id)


@router.post(
    "/{request_id}/ack", response_model=AckOut, responses=problems.responses(403, 404, 409)
)
async def acknowledge_request(
    request_id: uuid.UUID, session: Session, actor: CurrentActor
) -> AckOut:
    return await request_service.acknowledge(session, actor, request_id)


@router.post(
    "/{request_id}/assign",
    response_model=AssignmentOut,
    responses=problems.responses(403, 404, 409),
)
async def assign_request(
    request_id: uuid.UUID, body: AssignmentCreate, session: Session, actor: CurrentActor
) -> AssignmentOut:
    """Hand the request to another active contact point of its target desk. The old and the
    new assignee and the desk are told (`request.assigned`)."""
    return await assignment.assign(session, actor, request_id, body.principal_id)
