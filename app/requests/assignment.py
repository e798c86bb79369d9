"""Handing a request to another contact point of its target desk."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ConflictError
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest, Principal
from app.models.enums import Assignment
from app.realtime import audience, event_log
from app.requests import access, lifecycle, views
from app.requests.schemas import AssignmentOut
from app.rosters.manage import check_contact_points


def may_assign(actor: Actor, request: CooperationRequest) -> bool:
    """What assign() allows, asked before: the page offers a hand-over only where it would
    succeed (but for the choice of an inactive or foreign person, which assign() refuses)."""
    return policy.permits(
        actor, policy.Action.ASSIGN_REQUEST, access.owner_of(request)
    ) and not lifecycle.is_final(request.status)


async def assign(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, principal_id: uuid.UUID
) -> AssignmentOut:
    """Hand the request to another contact point of its target desk."""
    request = await access.find_visible(session, actor, request_id, lock=True)
    policy.require(actor, policy.Action.ASSIGN_REQUEST, access.owner_of(request))
    if lifecycle.is_final(request.status):
        raise ConflictError(
            f"a request that is {request.status.value} is finished: it is not handed on",
            current_status=request.status.value,
        )
    await check_contact_points(session, request.target_country, {"principal_id": principal_id})
    previous = request.assigned_to
    if previous == principal_id:
        return AssignmentOut(
            request_id=request.id,
            assigned_to=previous,
            assignment=request.assignment,
            assigned_at=request.assigned_at,
            previously_assigned_to=previous,
            changed=False,
        )
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    request.assigned_to = principal_id
    request.assigned_agency_id = await session.scalar(
        select(Principal.agency_id).where(Principal.id == principal_id)
    )
    request.version += 1
    request.assignment = Assignment.REASSIGNED
    request.assigned_at = request.updated_at = now
    await session.flush()

    await access.audit_request(
        session,
        actor,
        "request.reassigned",
        request,
        {"from": str(previous) if previous else None, "to": str(principal_id)},
    )
    channels = [
        audience.desk_channel(request.target_country),
        audience.principal_channel(principal_id),
    ]
    if previous is not None:
        channels.append(audience.principal_channel(previous))
    await event_log.publish(
        session,
        "request.assigned",
        channels=channels,
        request_id=request.id,
        data=views.event_data(request),
    )
    return AssignmentOut(
        request_id=request.id,
        assigned_to=principal_id,
        assignment=request.assignment,
        assigned_at=now,
        previously_assigned_to=previous,
        changed=True,
    )
