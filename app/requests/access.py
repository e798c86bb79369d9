"""Who may see and do what with a request: which requests an actor sees at all (visible_to,
find_visible), whom a request belongs to (owner_of) and which countries it concerns
(countries_of), who may read its content, which side an actor acts for, the channels its
events go to; and its entries in the audit trail (audit_request), which the auditors of
those countries see."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ConflictError, ForbiddenError, NotFoundError
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest
from app.models.enums import Side
from app.realtime import audience
from app.requests import handling, lifecycle

# --- who may see and do what ---------------------------------------------------------------

# The object type of a request's audit entries.
OBJECT_TYPE = "request"


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """Which requests the actor sees at all (app/identity/policy.py); nothing else exists."""
    return policy.where(actor, policy.Action.READ_REQUEST, CooperationRequest)


def owner_of(request: CooperationRequest) -> policy.Owner:
    """What a request belongs to, as its model declares it (CooperationRequest.owner_columns):
    its target country and the agency that sent it, the sender's country and its holder."""
    return policy.owner_of(request)


def countries_of(request: CooperationRequest) -> tuple[str, str]:
    """The countries a request concerns, whose auditors see its audit entries: its target and
    its sender's."""
    return (request.target_country, request.requesting_country)


def reads_content(actor: Actor, request: CooperationRequest) -> bool:
    """Whether the actor may read this request's content, by its handling code; a purged
    request has none left to read."""
    return request.purged_at is None and handling.may_read(
        actor, request.handling_code, owner_of(request)
    )


async def find_visible(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, *, lock: bool = False
) -> CooperationRequest:
    """The request, if the actor may see it (else 404, as if it did not exist); ``lock``
    takes its row lock, for a use case that decides on its state."""
    query = select(CooperationRequest).where(CooperationRequest.id == request_id, visible_to(actor))
    request = await session.scalar(query.with_for_update() if lock else query)
    if request is None:
        raise NotFoundError(f"no request {request_id} that you may see")
    return request


def side_of(actor: Actor, request: CooperationRequest) -> Side | None:
    """Which side of the request the actor acts for, if any (app/identity/policy.py)."""
    owner = owner_of(request)
    if policy.permits(actor, policy.Action.ACT_AS_REQUESTER, owner):
        return Side.REQUESTER
    if policy.permits(actor, policy.Action.ACT_AS_TARGET, owner):
        return Side.TARGET
    return None


def participant_side(actor: Actor, request: CooperationRequest, *, adding: str) -> Side:
    """The side the actor writes for in the request's exchange (messages, files), which must
    be open: a final or purged request takes no more ``adding``."""
    policy.require(actor, policy.Action.TAKE_PART, owner_of(request))
    side = side_of(actor, request)
    if side is None:
        raise ForbiddenError("you act for neither side of this request")
    if request.purged_at is not None:
        raise ConflictError(
            f"the request's content has been purged: it takes no more {adding}",
            current_status=request.status.value,
        )
    if lifecycle.is_final(request.status):
        raise ConflictError(
            f"the request is {request.status.value}: it takes no more {adding}",
            current_status=request.status.value,
        )
    return side


def takes_part(actor: Actor, request: CooperationRequest) -> bool:
    """Whether participant_side() would let the actor add a message or a file now: the page
    shows its forms only where they can succeed."""
    return (
        policy.permits(actor, policy.Action.TAKE_PART, owner_of(request))
        and side_of(actor, request) is not None
        and request.purged_at is None
        and not lifecycle.is_final(request.status)
    )


def channels_of(request: CooperationRequest) -> list[str]:
    """Both sides' channels: the sender's agency, the target desk (which the NCB and the
    global desk follow) and the assignee's own."""
    channels = [
        audience.agency_channel(request.requesting_agency_id),
        audience.desk_channel(request.target_country),
    ]
    if request.assigned_to is not None:
        channels.append(audience.principal_channel(request.assigned_to))
    return channels


# --- the audit trail ------------------------------------------------------------------------


async def audit_request(
    session: AsyncSession,
    actor: Actor,
    action: str,
    request: CooperationRequest,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(request.id),
        countries=countries_of(request),
        content_hash=request.content_hash,
        details=details,
    )
