"""Escalation policies: the network-wide default, and a country's own that overrides it.

A country's changes are serialised on its ``countries`` row (locked first), so a PUT and a
DELETE of the same country's policy never interleave, whether its policy row exists yet or
not; the default is serialised on its own row.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import audit
from app.core.errors import NotFoundError
from app.core.preconditions import require_current
from app.deadlines.escalation_policy import EscalationPolicyDocument, EscalationPolicyOut
from app.directory.countries import owner_of
from app.identity import policy
from app.identity.auth import Actor
from app.models import Country, EscalationPolicy
from app.models.escalation_policy import NETWORK_DEFAULT

OBJECT_TYPE = "escalation_policy"


def _view(row: EscalationPolicy, *, country: str | None, inherited: bool) -> EscalationPolicyOut:
    return EscalationPolicyOut(
        country=country,
        inherited=inherited,
        version=row.version,
        updated_at=row.updated_at,
        document=EscalationPolicyDocument.model_validate(row.document),
    )


async def _default(session: AsyncSession, *, lock: bool = False) -> EscalationPolicy:
    query = select(EscalationPolicy).where(EscalationPolicy.scope == NETWORK_DEFAULT)
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:  # written by migration 0003; only a hand-edited database lacks it
        raise RuntimeError("the network-wide escalation policy is missing")
    return row


async def _effective(session: AsyncSession, code: str) -> EscalationPolicyOut:
    found = (
        await session.execute(
            select(Country.code, EscalationPolicy)
            .outerjoin(EscalationPolicy, EscalationPolicy.country_code == Country.code)
            .where(Country.code == code)
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"{code} is not a country of the network")
    own: EscalationPolicy | None = found[1]
    if own is not None:
        return _view(own, country=code, inherited=False)
    return _view(await _default(session), country=code, inherited=True)


async def effective_document(session: AsyncSession, code: str) -> EscalationPolicyDocument:
    """The policy that applies to requests addressed to ``code`` (for routing and deadlines)."""
    return (await _effective(session, code)).document


async def effective_documents(
    session: AsyncSession, codes: Collection[str]
) -> dict[str, EscalationPolicyDocument]:
    """The policy of each country of ``codes`` (its own, else the default), in one query: the
    deadline worker's batches need the policies of many requests at once."""
    own = aliased(EscalationPolicy)
    default = aliased(EscalationPolicy)
    rows = await session.execute(
        select(Country.code, func.coalesce(own.document, default.document))
        .outerjoin(own, own.country_code == Country.code)
        .join(default, default.scope == NETWORK_DEFAULT)
        .where(Country.code.in_(codes))
    )
    return {code: EscalationPolicyDocument.model_validate(document) for code, document in rows}


async def get_default(session: AsyncSession, actor: Actor) -> EscalationPolicyOut:
    policy.require(actor, policy.Action.READ_DIRECTORY, policy.NETWORK)
    return _view(await _default(session), country=None, inherited=False)


async def get_effective(session: AsyncSession, actor: Actor, code: str) -> EscalationPolicyOut:
    policy.require(actor, policy.Action.READ_DIRECTORY, owner_of(code))
    return await _effective(session, code)


async def _record(
    session: AsyncSession, actor: Actor, action: str, scope: str, **details: object
) -> None:
    # The network default concerns no one country; a country's own policy, that country.
    country = None if scope == NETWORK_DEFAULT else scope
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=scope,
        countries=(country,),
        details=details,
    )


async def replace_default(
    session: AsyncSession,
    actor: Actor,
    document: EscalationPolicyDocument,
    *,
    if_match: str | None,
) -> EscalationPolicyOut:
    policy.require(actor, policy.Action.MANAGE_DEFAULT_POLICY, policy.NETWORK)
    row, now = (
        await session.execute(
            select(EscalationPolicy, func.now())
            .where(EscalationPolicy.scope == NETWORK_DEFAULT)
            .with_for_update(of=EscalationPolicy)
        )
    ).one()
    require_current(if_match, _view(row, country=None, inherited=False).etag)
    _write(row, document, now)
    await session.flush()
    await _record(
        session,
        actor,
        "escalation_policy.changed",
        NETWORK_DEFAULT,
        version=row.version,
        document=row.document,
    )
    return _view(row, country=None, inherited=False)


def _write(row: EscalationPolicy, document: EscalationPolicyDocument, now: datetime) -> None:
    row.document = document.model_dump(mode="json")
    row.version += 1
    row.updated_at = now


async def _lock_country(
    session: AsyncSession, actor: Actor, code: str, if_match: str | None
) -> tuple[EscalationPolicy | None, datetime]:
    """Lock the country (404 if unknown), check the actor may manage it and that ``If-Match``
    names the policy now in effect; the country's own policy, if any, and the DB clock."""
    policy.require(actor, policy.Action.READ_DIRECTORY, owner_of(code))
    found = (
        await session.execute(
            select(EscalationPolicy, func.now())
            .select_from(Country)
            .outerjoin(EscalationPolicy, EscalationPolicy.country_code == Country.code)
            .where(Country.code == code)
            .with_for_update(of=Country)
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"{code} is not a country of the network")
    policy.require(actor, policy.Action.MANAGE_COUNTRY, owner_of(code))
    own, now = found
    if if_match is not None:
        current = (
            _view(own, country=code, inherited=False)
            if own is not None
            else _view(await _default(session), country=code, inherited=True)
        )
        require_current(if_match, current.etag)
    return own, now


async def replace_for_country(
    session: AsyncSession,
    actor: Actor,
    code: str,
    document: EscalationPolicyDocument,
    *,
    if_match: str | None,
) -> EscalationPolicyOut:
    own, now = await _lock_country(session, actor, code, if_match)
    if own is None:
        own = EscalationPolicy(
            scope=code,
            country_code=code,
            document=document.model_dump(mode="json"),
            version=1,
            updated_at=now,
        )
        session.add(own)
    else:
        _write(own, document, now)
    await session.flush()
    await _record(
        session,
        actor,
        "escalation_policy.changed",
        code,
        version=own.version,
        document=own.document,
    )
    return _view(own, country=code, inherited=False)


async def revert_country(
    session: AsyncSession, actor: Actor, code: str, *, if_match: str | None
) -> EscalationPolicyOut:
    """Drop the country's own policy: the default applies again. Without one, nothing changes."""
    own, _ = await _lock_country(session, actor, code, if_match)
    if own is not None:
        await session.delete(own)
        await session.flush()
        await _record(
            session, actor, "escalation_policy.reverted", code, removed_version=own.version
        )
    return _view(await _default(session), country=code, inherited=True)
