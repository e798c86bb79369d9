"""/v1/me/contact-methods and /v1/principals/{id}/contact-methods: the ways a person is
alerted, managed by the person and by whoever manages them (app/alerts/contacts.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from app.alerts import contacts
from app.alerts.contact_schemas import (
    ContactMethodCreate,
    ContactMethodCreated,
    ContactMethodList,
    ContactMethodOut,
    ContactMethodVerify,
)
from app.api import problems
from app.api.deps import CurrentActor, Session
from app.api.tokens import NO_STORE
from app.core.service_secret import ServiceSecret
from app.outbound.http import OutboundHttp

router = APIRouter(tags=["alerts"])

_ME = "/v1/me/contact-methods"
_THEIRS = "/v1/principals/{principal_id}/contact-methods"


def _secret(request: Request) -> ServiceSecret:
    secret: ServiceSecret = request.app.state.service_secret
    return secret


def _outbound(request: Request) -> OutboundHttp:
    outbound: OutboundHttp = request.app.state.outbound
    return outbound


# --- the caller's own -----------------------------------------------------------------------


@router.get(_ME, response_model=ContactMethodList)
async def list_my_contact_methods(session: Session, actor: CurrentActor) -> ContactMethodList:
    """The ways you are alerted when work waits for you; only verified ones are used."""
    return await contacts.list_methods(session, actor, actor.principal_id)


@router.post(
    _ME,
    status_code=201,
    response_model=ContactMethodCreated,
    responses=problems.responses(403, 409),
)
async def add_my_contact_method(
    body: ContactMethodCreate,
    request: Request,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> ContactMethodCreated:
    """Add a way to be alerted: an e-mail address, a browser's push subscription, or your
    country's gateway (a URL relay247 POSTs signed alerts to; its `secret` is shown this
    once). A test message with a code is sent to it; confirm the code with `/verify` before
    it is alerted."""
    response.headers.update(NO_STORE)
    return await contacts.add(
        session,
        actor,
        actor.principal_id,
        body,
        secret=_secret(request),
        outbound=_outbound(request),
    )


@router.delete(_ME + "/{method_id}", status_code=204, responses=problems.responses(403, 404))
async def remove_my_contact_method(
    method_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    """Remove it: no alert goes there again, and its address is deleted."""
    await contacts.remove(session, actor, actor.principal_id, method_id)
    return Response(status_code=204)


@router.post(
    _ME + "/{method_id}/verify",
    response_model=ContactMethodOut,
    responses=problems.responses(403, 404, 409),
)
async def verify_my_contact_method(
    method_id: uuid.UUID,
    body: ContactMethodVerify,
    request: Request,
    session: Session,
    actor: CurrentActor,
) -> ContactMethodOut:
    """Confirm the code of its test message: it is alerted from now on. 422 for a wrong
    code, 409 when it has expired (24 h: ask for another)."""
    return await contacts.verify(
        session, _secret(request), actor, actor.principal_id, method_id, body.code
    )


@router.post(
    _ME + "/{method_id}/resend-verification",
    response_model=ContactMethodOut,
    responses=problems.responses(403, 404, 409, 429),
)
async def resend_my_verification(
    method_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ContactMethodOut:
    """Send another test message with a new code (the last one stops working); at most one
    a minute."""
    return await contacts.resend(session, actor, actor.principal_id, method_id)


# --- a person's, by whoever manages them ----------------------------------------------------


@router.get(_THEIRS, response_model=ContactMethodList, responses=problems.responses(403, 404))
async def list_contact_methods(
    principal_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ContactMethodList:
    """A person's ways of being alerted: for them, their NCB, the global desk."""
    return await contacts.list_methods(session, actor, principal_id)


@router.post(
    _THEIRS,
    status_code=201,
    response_model=ContactMethodCreated,
    responses=problems.responses(403, 404, 409),
)
async def add_contact_method(
    principal_id: uuid.UUID,
    body: ContactMethodCreate,
    request: Request,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> ContactMethodCreated:
    """Add a way to alert a person (a desk's gateway, say), as
    `POST /v1/me/contact-methods` does for oneself."""
    response.headers.update(NO_STORE)
    return await contacts.add(
        session, actor, principal_id, body, secret=_secret(request), outbound=_outbound(request)
    )


@router.delete(_THEIRS + "/{method_id}", status_code=204, responses=problems.responses(403, 404))
async def remove_contact_method(
    principal_id: uuid.UUID, method_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    await contacts.remove(session, actor, principal_id, method_id)
    return Response(status_code=204)


@router.post(
    _THEIRS + "/{method_id}/verify",
    response_model=ContactMethodOut,
    responses=problems.responses(403, 404, 409),
)
async def verify_contact_method(
    principal_id: uuid.UUID,
    method_id: uuid.UUID,
    body: ContactMethodVerify,
    request: Request,
    session: Session,
    actor: CurrentActor,
) -> ContactMethodOut:
    return await contacts.verify(
        session, _secret(request), actor, principal_id, method_id, body.code
    )


@router.post(
    _THEIRS + "/{method_id}/resend-verification",
    response_model=ContactMethodOut,
    responses=problems.responses(403, 404, 409, 429),
)
async def resend_verification(
    principal_id: uuid.UUID, method_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ContactMethodOut:
    return await contacts.resend(session, actor, principal_id, method_id)
