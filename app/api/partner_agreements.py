"""/v1/partner-agreements: the terms each private partner submits data under."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.sharing import agreements as agreement_service
from app.sharing.agreement_schemas import (
    PartnerAgreementOut,
    PartnerAgreementPage,
    PartnerAgreementTerms,
)

router = APIRouter(prefix="/v1/partner-agreements", tags=["shared data"])


@router.get("", response_model=PartnerAgreementPage, responses=problems.responses(403))
async def list_partner_agreements(
    session: Session,
    actor: CurrentActor,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PartnerAgreementPage:
    """The partner agreements you may read, newest first: a partner its own; the global desk
    and admins all."""
    return await agreement_service.list_agreements(session, actor, cursor=cursor, limit=limit)


@router.get(
    "/{partner_agency_id}",
    response_model=PartnerAgreementOut,
    responses=problems.responses(403, 404),
)
async def get_partner_agreement(
    partner_agency_id: uuid.UUID, session: Session, actor: CurrentActor
) -> PartnerAgreementOut:
    return await agreement_service.get_agreement(session, actor, partner_agency_id)


@router.put(
    "/{partner_agency_id}",
    response_model=PartnerAgreementOut,
    responses={201: {"description": "Made"}, **problems.responses(403, 404, 409)},
)
async def put_partner_agreement(
    partner_agency_id: uuid.UUID,
    body: PartnerAgreementTerms,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> PartnerAgreementOut:
    """Make (201) or replace (200) a partner's agreement: the STIX types it may submit, how
    many objects a day, the TLP ceiling, what becomes of unmarked objects, how long its data
    is kept, and when the agreement is in force. The first agreement of a partner also makes
    its inbox collection. The global desk and admins may."""
    agreement, created = await agreement_service.put_agreement(
        session, actor, partner_agency_id, body
    )
    if created:
        response.status_code = 201
    return agreement
