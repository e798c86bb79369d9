"""Partner agreements: the prior agreement INTERPOL's Rules on the Processing of Data ask for
before any data is taken from a private entity. One per partner agency, made and changed by
the global desk (or an admin) with PUT, read by the partner itself.

Making a partner's agreement also makes its inbox collection, if it has none, so that the
partner can submit as soon as its terms are in force. A change is audited with the terms
before and after (terms only: there is no secret in an agreement).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, DataCollection, PartnerAgreement
from app.models.enums import AgencyKind, CollectionKind
from app.sharing.agreement_schemas import (
    PartnerAgreementOut,
    PartnerAgreementPage,
    PartnerAgreementState,
    PartnerAgreementTerms,
    valid_until_message,
)

OBJECT_TYPE = "partner_agreement"
_TERMS = [name for name in PartnerAgreementTerms.model_fields]


def visible_to(actor: Actor) -> ColumnElement[bool]:
    return policy.where(actor, policy.Action.READ_PARTNER_AGREEMENTS, PartnerAgreement)


def state_of(agreement: PartnerAgreement, now: datetime) -> PartnerAgreementState:
    if agreement.valid_from > now:
        return PartnerAgreementState.SCHEDULED
    if agreement.valid_until is not None and agreement.valid_until <= now:
        return PartnerAgreementState.EXPIRED
    return PartnerAgreementState.ACTIVE


def _inbox_of() -> Any:
    c = DataCollection
    return (
        select(c.id)
        .where(
            c.kind == CollectionKind.INBOX, c.owner_agency_id == PartnerAgreement.partner_agency_id
        )
        .scalar_subquery()
    )


def _view(
    agreement: PartnerAgreement, now: datetime, inbox: uuid.UUID | None
) -> PartnerAgreementOut:
    return PartnerAgreementOut(
        id=agreement.id,
        partner_agency_id=agreement.partner_agency_id,
        object_types=list(agreement.object_types),
        daily_object_limit=agreement.daily_object_limit,
        handling_ceiling=agreement.handling_ceiling,
        unmarked=agreement.unmarked,
        default_handling=agreement.default_handling,
        retention_days=agreement.retention_days,
        valid_from=agreement.valid_from,
        valid_until=agreement.valid_until,
        state=state_of(agreement, now),
        inbox_collection_id=inbox,
        created_at=agreement.created_at,
        updated_at=agreement.updated_at,
        updated_by=agreement.updated_by,
    )


async def list_agreements(
    session: AsyncSession, actor: Actor, *, cursor: str | None, limit: int
) -> PartnerAgreementPage:
    """The agreements the actor may read, newest first: a partner its own, the global desk
    and admins every one."""
    policy.require(actor, policy.Action.READ_PARTNER_AGREEMENTS)
    a = PartnerAgreement
    query = select(a, func.now(), _inbox_of()).where(visible_to(actor))
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(a.created_at, a.id) < tuple_(after.created_at, after.id))
    rows = (
        await session.execute(query.order_by(a.created_at.desc(), a.id.desc()).limit(limit + 1))
    ).all()
    page, more = rows[:limit], len(rows) > limit
    last = page[-1][0] if page else None
    return PartnerAgreementPage(
        items=[_view(row, now, inbox) for row, now, inbox in page],
        next_cursor=Cursor(last.created_at, last.id).encode() if more and last else None,
    )


async def get_agreement(
    session: AsyncSession, actor: Actor, partner_agency_id: uuid.UUID
) -> PartnerAgreementOut:
    policy.require(actor, policy.Action.READ_PARTNER_AGREEMENTS)
    found = (
        await session.execute(
            select(PartnerAgreement, func.now(), _inbox_of()).where(
                PartnerAgreement.partner_agency_id == partner_agency_id, visible_to(actor)
            )
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"no partner agreement of agency {partner_agency_id} that you may see")
    agreement, now, inbox = found
    return _view(agreement, now, inbox)


def _terms(agreement: PartnerAgreement) -> dict[str, Any]:
    """What an audit entry says the agreement allows."""
    terms: dict[str, Any] = {}
    for name in _TERMS:
        value = getattr(agreement, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, list):
            value = sorted(value)
        elif value is not None and not isinstance(value, int):
            value = str(value)
        terms[name] = value
    return terms


async def _partner(session: AsyncSession, partner_agency_id: uuid.UUID) -> Agency:
    agency = await session.get(Agency, partner_agency_id)
    if agency is None:
        raise NotFoundError(f"there is no agency {partner_agency_id}")
    if agency.kind is not AgencyKind.PARTNER:
        raise InvalidInputError(
            f"{agency.name} is an agency of kind {agency.kind.value}: partner agreements are "
            "made with private partners (agencies of kind partner)",
            field="partner_agency_id",
        )
    return agency


async def _ensure_inbox(session: AsyncSession, actor: Actor, agency: Agency) -> uuid.UUID:
    """The partner's inbox collection, made now if it has none (a concurrent maker's stays)."""
    c = DataCollection
    await session.execute(
        insert(c)
        .values(
            id=uuid.uuid4(),
            kind=CollectionKind.INBOX,
            title=f"{agency.name[:180]} inbox",
            description="The partner's submissions, in quarantine until the global desk "
            "triages them",
            owner_agency_id=agency.id,
            created_by=actor.principal_id,
        )
        .on_conflict_do_nothing(
            index_elements=[c.owner_agency_id], index_where=c.kind == CollectionKind.INBOX
        )
    )
    inbox = await session.scalar(
        select(c.id).where(c.kind == CollectionKind.INBOX, c.owner_agency_id == agency.id)
    )
    assert inbox is not None
    return inbox


async def put_agreement(
    session: AsyncSession,
    actor: Actor,
    partner_agency_id: uuid.UUID,
    terms: PartnerAgreementTerms,
) -> tuple[PartnerAgreementOut, bool]:
    """Make or replace the partner's agreement; whether it was made. The partner's inbox is
    made with its first agreement. A change that changes nothing writes nothing."""
    policy.require(actor, policy.Action.MANAGE_PARTNER_AGREEMENTS)
    agency = await _partner(session, partner_agency_id)
    now = (await session.execute(select(func.now()))).scalar_one()
    agreement = await session.scalar(
        select(PartnerAgreement)
        .where(PartnerAgreement.partner_agency_id == partner_agency_id)
        .with_for_update()
    )
    created = agreement is None
    before = None if agreement is None else _terms(agreement)
    valid_from = terms.valid_from or (now if agreement is None else agreement.valid_from)
    if terms.valid_until is not None and terms.valid_until <= valid_from:
        raise InvalidInputError(valid_until_message(valid_from), field="valid_until")
    wanted = {
        **terms.model_dump(exclude={"valid_from"}),
        "object_types": list(terms.object_types),
        "valid_from": valid_from,
    }
    if agreement is None:
        agreement = PartnerAgreement(
            id=uuid.uuid4(), partner_agency_id=agency.id, created_at=now, **wanted
        )
        session.add(agreement)
    else:
        for name, value in wanted.items():
            setattr(agreement, name, value)
    inbox = await _ensure_inbox(session, actor, agency)
    after = _terms(agreement)
    if after == before:
        return _view(agreement, now, inbox), False
    agreement.updated_at = now
    agreement.updated_by = actor.principal_id
    await session.flush()
    await audit.record(
        session,
        actor,
        "partner_agreement.changed",
        object_type=OBJECT_TYPE,
        object_id=str(agreement.id),
        countries=(agency.country_code,),
        details={
            "partner_agency_id": str(agency.id),
            "inbox_collection_id": str(inbox),
            "before": before,
            "after": after,
        },
    )
    return _view(agreement, now, inbox), created
