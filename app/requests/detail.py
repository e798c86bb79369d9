"""One request as its own page shows it (GET /v1/requests/{id}): its fields (content only for
who may read it, an audited read), its escalations, what the reader may do now (the
lifecycle's actions, and whether they may hand it on), and who sent it with how to call them
back, each as far as the reader may know."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.directory import person_refs
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, CooperationRequest, Country
from app.requests import assignment, lifecycle
from app.requests.access import (
    audit_request,
    find_visible,
    owner_of,
    reads_content,
    side_of,
    takes_part,
)
from app.requests.schemas import RequestDetailOut, RequesterOut
from app.requests.views import escalations, fields_of


async def requester_of(
    session: AsyncSession, actor: Actor, request: CooperationRequest
) -> RequesterOut:
    """The sending agency and country, the country's desk phone where the reader may see
    desks' contacts, and the sender as the reader may know them: two queries."""
    agency_name, country_name, desk_phone = (
        await session.execute(
            select(Agency.name, Country.name, Country.desk_phone)
            .join(Country, Country.code == Agency.country_code)
            .where(Agency.id == request.requesting_agency_id)
        )
    ).one()
    senders = await person_refs.describe(session, actor, [request.created_by])
    sees_desk = policy.permits(
        actor, policy.Action.READ_DESK_CONTACTS, policy.Owner(country=request.requesting_country)
    )
    return RequesterOut(
        agency_id=request.requesting_agency_id,
        agency_name=agency_name,
        country=request.requesting_country,
        country_name=country_name,
        desk_phone=desk_phone if sees_desk else None,
        sender=senders[request.created_by],
    )


async def get(
    session: AsyncSession,
    actor: Actor,
    request_id: uuid.UUID,
    *,
    reopen_window: timedelta,
    with_content: bool = True,
) -> RequestDetailOut:
    """The request; ``with_content`` false: its metadata only, and no audited read."""
    request = await find_visible(session, actor, request_id)
    if with_content and reads_content(actor, request):
        await audit_request(session, actor, "request.read", request)
    allowed = lifecycle.allowed_for(
        actor,
        request,
        side_of(actor, request),
        owner_of(request),
        datetime.now(UTC),
        reopen_window,
    )
    return RequestDetailOut.model_validate(
        {
            **fields_of(request, actor, with_content=with_content),
            "escalations": await escalations(session, request.id),
            "allowed_actions": allowed,
            "requester": await requester_of(session, actor, request),
            "may_assign": assignment.may_assign(actor, request),
            "may_take_part": takes_part(actor, request),
        }
    )
