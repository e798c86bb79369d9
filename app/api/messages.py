"""/v1/requests/{request_id}/messages: a request's thread. Thin routes, one service call each."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.exchange import messages as message_service
from app.exchange.message_schemas import MessageCreate, MessageOut, MessagePage

router = APIRouter(prefix="/v1/requests", tags=["messages"])


@router.post(
    "/{request_id}/messages",
    status_code=201,
    response_model=MessageOut,
    responses=problems.responses(403, 404, 409),
)
async def post_message(
    request_id: uuid.UUID,
    body: MessageCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> MessageOut:
    """Write to the other side of an open request, as one of its sides (the sender's agency;
    the target desk, its NCB, the global desk). The message takes the request's handling
    unless it says otherwise, and may be stricter than the request, never looser. Both sides
    are told (`message.posted`, metadata only); `Location` is the thread page holding it."""
    message = await message_service.post(session, actor, request_id, body)
    response.headers["Location"] = message_service.location_of(message)
    return message


@router.get("/{request_id}/messages", response_model=MessagePage, responses=problems.responses(404))
async def list_messages(
    request_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    after_seq: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**31 - 1,
            description="Only the messages after this `seq`: what a page that has shown the "
            "thread up to it reads when told of a new one, without reading (and auditing) the "
            "rest again. Not with `cursor`",
        ),
    ] = None,
) -> MessagePage:
    """The thread, oldest first. A text the caller may not read (by the message's TLP code;
    auditors read none) or that was purged is null, and `withheld` says why. Each text shown
    is an audited read."""
    return await message_service.thread(
        session, actor, request_id, cursor=cursor, limit=limit, after_seq=after_seq
    )
