"""/v1/webhook-endpoints: an agency's webhook endpoints and their delivery log, thin routes
(rules in app/webhooks/), and the event catalogue of the OpenAPI document's ``webhooks``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response

from app.api import problems
from app.api.deps import CurrentActor, Session, get_settings
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.core.service_secret import ServiceSecret
from app.core.settings import Settings
from app.models.outbox import MessageStatus
from app.outbound.http import OutboundHttp
from app.webhooks import catalogue, deliveries, endpoints
from app.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    EndpointCreate,
    EndpointIssued,
    EndpointOut,
    EndpointPage,
    EndpointPatch,
    EndpointRotate,
    Recover,
    Recovered,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])

NO_STORE = {"Cache-Control": "no-store"}  # an answer carrying a secret is kept by no cache
PageCursor = Annotated[Annotated[str, Text(max_length=512)] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
_ONE = problems.responses(404)
_WRITE = problems.responses(403, 404)


async def _keys(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> endpoints.Keys:
    secret: ServiceSecret = request.app.state.service_secret
    outbound: OutboundHttp | None = getattr(request.app.state, "outbound", None)
    refusal = (outbound or OutboundHttp(settings.outbox)).refusal
    return endpoints.Keys(secret, refusal)


Keys = Annotated[endpoints.Keys, Depends(_keys)]


@router.post("", status_code=201, response_model=EndpointIssued, responses=problems.responses(403))
async def create_endpoint(
    body: EndpointCreate, session: Session, actor: CurrentActor, keys: Keys, response: Response
) -> EndpointIssued:
    """Add an endpoint for your agency. It hears what your agency hears (its `channels`,
    fixed now). The answer's `secret` is shown this once: a `whsec_` secret (`v1`), or the
    `whpk_` public key to verify `v1a` signatures with."""
    response.headers.update(NO_STORE)
    return await endpoints.create(session, actor, body, keys)


@router.get("", response_model=EndpointPage)
async def list_endpoints(
    session: Session,
    actor: CurrentActor,
    keys: Keys,
    cursor: PageCursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> EndpointPage:
    """Your agency's endpoints, newest first."""
    return await endpoints.list_endpoints(session, actor, keys, cursor=cursor, limit=limit)


@router.get("/{endpoint_id}", response_model=EndpointOut, responses=_ONE)
async def get_endpoint(
    endpoint_id: uuid.UUID, session: Session, actor: CurrentActor, keys: Keys
) -> EndpointOut:
    return await endpoints.get(session, actor, endpoint_id, keys)


@router.patch("/{endpoint_id}", response_model=EndpointOut, responses=_ONE)
async def change_endpoint(
    endpoint_id: uuid.UUID, body: EndpointPatch, session: Session, actor: CurrentActor, keys: Keys
) -> EndpointOut:
    """Change what is given; `enabled` true after a disabling sends again (recover what
    failed meanwhile with `/recover`)."""
    return await endpoints.change(session, actor, endpoint_id, body, keys)


@router.delete("/{endpoint_id}", status_code=204, response_class=Response, responses=_ONE)
async def delete_endpoint(
    endpoint_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    """Remove the endpoint; what was still to be sent to it is not."""
    await endpoints.delete(session, actor, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret", status_code=201, response_model=EndpointIssued, responses=_ONE
)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    keys: Keys,
    response: Response,
    body: EndpointRotate | None = None,
) -> EndpointIssued:
    """A new secret (or key pair), shown this once. For 24 hours messages are signed with
    both the new and the previous one, so receivers can switch without a refusal."""
    response.headers.update(NO_STORE)
    scheme = body.scheme if body is not None else None
    return await endpoints.rotate(session, actor, endpoint_id, scheme, keys)


@router.get("/{endpoint_id}/messages", response_model=DeliveryPage, responses=_ONE)
async def delivery_log(
    endpoint_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: PageCursor = None,
    limit: Limit = DEFAULT_LIMIT,
    status: Annotated[
        MessageStatus | None, Query(description="Only the messages in this state")
    ] = None,
) -> DeliveryPage:
    """The messages to the endpoint, newest first, each with its attempts (outcome, status,
    latency, the start of the answer)."""
    return await deliveries.log(
        session, actor, endpoint_id, cursor=cursor, limit=limit, status=status
    )


@router.post(
    "/{endpoint_id}/messages/{message_id}/resend",
    status_code=202,
    response_model=DeliveryOut,
    responses=problems.responses(404, 409),
)
async def resend_message(
    endpoint_id: uuid.UUID, message_id: uuid.UUID, session: Session, actor: CurrentActor
) -> DeliveryOut:
    """Send the message once more, now, with the same `webhook-id`."""
    return await deliveries.resend(session, actor, endpoint_id, message_id)


@router.post(
    "/{endpoint_id}/recover",
    status_code=202,
    response_model=Recovered,
    responses=problems.responses(404, 409),
)
async def recover(
    endpoint_id: uuid.UUID, body: Recover, session: Session, actor: CurrentActor
) -> Recovered:
    """Send again every message made in [since, until) whose attempts all failed; those
    delivered are skipped."""
    return await deliveries.recover(session, actor, endpoint_id, body.since, body.until)


def install(app: FastAPI) -> None:
    """The routes, and the event catalogue as the document's OpenAPI 3.1 ``webhooks``."""
    app.include_router(router)
    app.webhooks.include_router(catalogue.router())
