"""Access agreements: grant, change, end, read; and, re-exported from agreement_scope.py,
:func:`refusal`, the rule the submit path applies to decide whether an agency's agreements let
it send a request.

An agreement belongs to the agency it grants to and to that agency's country (whose NCB
manages it). It is never deleted: ending it sets ``ended_at``, and requests already sent are
untouched. Every change locks the row first, so two concurrent ends or changes of one
agreement are applied one after the other, the second seeing the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.core.preconditions import require_current
from app.directory.agreement_schemas import (
    AgreementChange,
    AgreementCreate,
    AgreementOut,
    AgreementPage,
    AgreementState,
    valid_until_message,
)

# The scope rule lives in its own pure module; the submit path imports it from here.
from app.directory.agreement_scope import AgreementTerms as AgreementTerms
from app.directory.agreement_scope import Refusal as Refusal
from app.directory.agreement_scope import RefusalReason as RefusalReason
from app.directory.agreement_scope import covering as covering
from app.directory.agreement_scope import refusal as refusal
from app.identity import policy
from app.identity.auth import Actor
from app.models import AccessAgreement, Agency, Country
from app.models.enums import AgencyKind

OBJECT_TYPE = "access_agreement"
# Who may be granted the right to send: a national unit, or a private partner (Gateway).
GRANTEE_KINDS = frozenset({AgencyKind.UNIT, AgencyKind.PARTNER})


async def terms_of_agency(session: AsyncSession, agency_id: uuid.UUID) -> list[AgreementTerms]:
    """Every agreement ever granted to the agency, for :func:`refusal` (ended ones included,
    so a refusal can say an agreement was ended rather than that there is none)."""
    rows = await session.scalars(
        select(AccessAgreement)
        .where(AccessAgreement.agency_id == agency_id)
        .order_by(AccessAgreement.created_at, AccessAgreement.id)
    )
    return [AgreementTerms.of(row) for row in rows]


# --- management ---------------------------------------------------------------------------


def visible_to(actor: Actor) -> ColumnElement[bool]:
    return policy.where(actor, policy.Action.READ_AGREEMENTS, AccessAgreement)


def state_of(agreement: AccessAgreement, now: datetime) -> AgreementState:
    if agreement.ended_at is not None:
        return AgreementState.ENDED
    if agreement.valid_from > now:
        return AgreementState.SCHEDULED
    if agreement.valid_until is not None and agreement.valid_until <= now:
        return AgreementState.EXPIRED
    return AgreementState.ACTIVE


def _active(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    a = AccessAgreement
    return and_(
        a.ended_at.is_(None),
        a.valid_from <= now,
        or_(a.valid_until.is_(None), a.valid_until > now),
    )


def _view(agreement: AccessAgreement, now: datetime) -> AgreementOut:
    return AgreementOut.model_validate(
        {
            **{name: getattr(agreement, name) for name in _COLUMNS},
            "country": agreement.country_code,
            "state": state_of(agreement, now),
        }
    )


_COLUMNS = [name for name in AgreementOut.model_fields if name not in ("country", "state")]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _scope(agreement: AccessAgreement) -> dict[str, Any]:
    """What an audit entry says the agreement allows."""
    return {
        "agency_id": str(agreement.agency_id),
        "country": agreement.country_code,
        "request_types": agreement.request_types,
        "target_countries": agreement.target_countries,
        "priorities": agreement.priorities,
        "valid_from": _iso(agreement.valid_from),
        "valid_until": _iso(agreement.valid_until),
        "four_eyes": agreement.four_eyes,
    }


async def _record(
    session: AsyncSession, actor: Actor, action: str, agreement: AccessAgreement, **extra: Any
) -> None:
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(agreement.id),
        countries=(agreement.country_code,),
        details={"scope": _scope(agreement), "version": agreement.version, **extra},
    )


@dataclass(frozen=True, slots=True)
class AgreementFilter:
    agency_id: uuid.UUID | None = None
    country: str | None = None
    active: bool | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        a = AccessAgreement
        clauses: list[ColumnElement[bool]] = []
        if self.agency_id is not None:
            clauses.append(a.agency_id == self.agency_id)
        if self.country is not None:
            clauses.append(a.country_code == self.country)
        if self.active is not None:
            active = _active(func.now())
            clauses.append(active if self.active else not_(active))
        return clauses


async def list_agreements(
    session: AsyncSession, actor: Actor, filters: AgreementFilter, *, cursor: str | None, limit: int
) -> AgreementPage:
    a = AccessAgreement
    query = select(a, func.now()).where(visible_to(actor), *filters.clauses())
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(a.created_at, a.id) < tuple_(after.created_at, after.id))
    rows = (
        await session.execute(query.order_by(a.created_at.desc(), a.id.desc()).limit(limit + 1))
    ).all()
    page, more = rows[:limit], len(rows) > limit
    last = page[-1][0] if page else None
    next_cursor = Cursor(last.created_at, last.id).encode() if more and last else None
    return AgreementPage(items=[_view(row, now) for row, now in page], next_cursor=next_cursor)


async def _find(
    session: AsyncSession, actor: Actor, agreement_id: uuid.UUID, *, lock: bool = False
) -> tuple[AccessAgreement, datetime]:
    query = select(AccessAgreement, func.now()).where(
        AccessAgreement.id == agreement_id, visible_to(actor)
    )
    found = (
        await session.execute(query.with_for_update(of=AccessAgreement) if lock else query)
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"no access agreement {agreement_id} that you may see")
    agreement, now = found
    return agreement, now


async def get_agreement(
    session: AsyncSession, actor: Actor, agreement_id: uuid.UUID
) -> AgreementOut:
    agreement, now = await _find(session, actor, agreement_id)
    return _view(agreement, now)


async def _check_targets(session: AsyncSession, targets: Iterable[str], own: str) -> None:
    wanted = set(targets)
    if own in wanted:
        raise InvalidInputError(
            f"lists {own}, the agency's own country: agreements cover requests to other countries",
            field="target_countries",
        )
    known = set(await session.scalars(select(Country.code).where(Country.code.in_(wanted))))
    unknown = sorted(wanted - known)
    if unknown:
        raise InvalidInputError(
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a country of the "
            "network",
            field="target_countries",
        )


def _stored(value: Any) -> Any:
    """Enum lists as the text arrays the scope columns hold."""
    return [str(item) for item in value] if isinstance(value, list) else value


async def grant(session: AsyncSession, actor: Actor, draft: AgreementCreate) -> AgreementOut:
    policy.require(actor, policy.Action.MANAGE_AGREEMENTS)
    found = (
        await session.execute(select(Agency, func.now()).where(Agency.id == draft.agency_id))
    ).one_or_none()
    if found is None:
        raise InvalidInputError(f"there is no agency {draft.agency_id}", field="agency_id")
    agency, now = found
    if agency.kind not in GRANTEE_KINDS:
        raise InvalidInputError(
            f"{agency.name} is an agency of kind {agency.kind.value}: agreements are granted "
            "to national units and partners",
            field="agency_id",
        )
    if not policy.permits(
        actor, policy.Action.MANAGE_AGREEMENTS, policy.Owner(country=agency.country_code)
    ):
        raise InvalidInputError(
            f"{agency.name} belongs to {agency.country_code}: an NCB grants agreements to "
            "agencies of its own country",
            field="agency_id",
        )
    if draft.target_countries is not None:
        await _check_targets(session, draft.target_countries, agency.country_code)
    valid_from = draft.valid_from or now
    if draft.valid_until is not None and draft.valid_until <= valid_from:
        raise InvalidInputError(valid_until_message(valid_from))

    agreement = AccessAgreement(
        id=uuid.uuid4(),
        agency_id=agency.id,
        country_code=agency.country_code,
        request_types=_stored(draft.request_types),
        target_countries=draft.target_countries,
        priorities=_stored(draft.priorities),
        valid_from=valid_from,
        valid_until=draft.valid_until,
        conditions=draft.conditions,
        four_eyes=draft.four_eyes,
        created_by=actor.principal_id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(agreement)
    await session.flush()
    await _record(session, actor, "agreement.granted", agreement)
    return _view(agreement, now)


async def _for_change(
    session: AsyncSession, actor: Actor, agreement_id: uuid.UUID
) -> tuple[AccessAgreement, datetime]:
    """The agreement, locked, once the actor may manage it (404 if it may not even see it)."""
    agreement, now = await _find(session, actor, agreement_id, lock=True)
    policy.require(actor, policy.Action.MANAGE_AGREEMENTS, agreement)
    return agreement, now


def _refuse_if_ended(agreement: AccessAgreement) -> None:
    if agreement.ended_at is not None:
        raise ConflictError(
            f"access agreement {agreement.id} was ended at {agreement.ended_at.isoformat()}: "
            "it cannot change; grant a new one"
        )


async def change(
    session: AsyncSession,
    actor: Actor,
    agreement_id: uuid.UUID,
    change: AgreementChange,
    *,
    if_match: str | None,
) -> AgreementOut:
    agreement, now = await _for_change(session, actor, agreement_id)
    require_current(if_match, _view(agreement, now).etag)
    _refuse_if_ended(agreement)
    wanted = {name: _stored(value) for name, value in change.changes().items()}
    if wanted.get("target_countries") is not None:
        await _check_targets(session, wanted["target_countries"], agreement.country_code)
    until = wanted.get("valid_until")
    if until is not None and until <= agreement.valid_from:
        raise InvalidInputError(valid_until_message(agreement.valid_from))

    changed = sorted(name for name, value in wanted.items() if getattr(agreement, name) != value)
    if not changed:
        return _view(agreement, now)
    before = {name: _audited(name, getattr(agreement, name)) for name in changed}
    for name in changed:
        setattr(agreement, name, wanted[name])
    agreement.version += 1
    agreement.updated_at = now
    await session.flush()
    after = {name: _audited(name, getattr(agreement, name)) for name in changed}
    await _record(session, actor, "agreement.changed", agreement, before=before, after=after)
    return _view(agreement, now)


def _audited(name: str, value: Any) -> Any:
    return _iso(value) if isinstance(value, datetime) else value


async def end(session: AsyncSession, actor: Actor, agreement_id: uuid.UUID) -> AgreementOut:
    """End the agreement now. Requests already sent under it are untouched."""
    agreement, now = await _for_change(session, actor, agreement_id)
    _refuse_if_ended(agreement)
    agreement.ended_at = agreement.updated_at = now
    agreement.version += 1
    await session.flush()
    await _record(session, actor, "agreement.ended", agreement, ended_at=_iso(now))
    return _view(agreement, now)
