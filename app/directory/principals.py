"""Principals: the people, desks and systems that act, each for one agency.

A principal is never deleted (requests and audit entries name it): it is disabled, which
stops all its tokens at once (app/identity/auth.py) and closes their sockets on every
instance, and enabled again, which lets its tokens that are neither revoked nor expired work
again. Functions that change something take an ``actor``: a principal calling the API, whom
app/identity/policy.py must allow, or None for an operator at the command line.

Audit entries of principals hold ids, roles and the names of changed fields, never a name,
e-mail or phone: the trail is append-only and must not become a store of personal data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from app import audit
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.directory import agencies
from app.directory.people_schemas import (
    CallerToken,
    MeOut,
    PrincipalChange,
    PrincipalCreate,
    PrincipalOut,
    PrincipalPage,
)
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, ApiToken, Principal
from app.models.enums import AgencyKind, Role

OBJECT_TYPE = "principal"

# Which kinds of agency each role may belong to: a role acts for its agency, so a unit's case
# system sits in a national unit, an auditor in the General Secretariat, and so on.
ROLE_AGENCY_KINDS: dict[Role, frozenset[AgencyKind]] = {
    Role.UNIT: frozenset({AgencyKind.UNIT}),
    Role.CONTACT_POINT: frozenset({AgencyKind.UNIT, AgencyKind.NCB}),
    Role.NCB: frozenset({AgencyKind.NCB}),
    Role.GS: frozenset({AgencyKind.GS}),
    Role.AUDITOR: frozenset({AgencyKind.GS}),
    Role.NATIONAL_AUDITOR: frozenset({AgencyKind.NCB, AgencyKind.UNIT}),
    Role.ADMIN: frozenset(AgencyKind),
    Role.PARTNER: frozenset({AgencyKind.PARTNER}),
}


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The principals the actor sees at all (rows joined with their agency); any other does
    not exist for it."""
    return policy.where(actor, policy.Action.READ_PEOPLE, Principal)


def view(principal: Principal, agency: Agency) -> PrincipalOut:
    return PrincipalOut(
        id=principal.id,
        agency_id=agency.id,
        country=agency.country_code,
        role=principal.role,
        name=principal.name,
        email=principal.email,
        phone=principal.phone,
        created_at=principal.created_at,
        disabled_at=principal.disabled_at,
    )


def _with_agency() -> Select[Principal, Agency]:
    """Principals with their agency, which the policy reads a principal's country from."""
    return (
        select(Principal, Agency)
        .join(Agency, Principal.agency_id == Agency.id)
        .options(contains_eager(Principal.agency))
    )


async def load(
    session: AsyncSession, actor: Actor | None, principal_id: uuid.UUID, *, lock: bool = False
) -> tuple[Principal, Agency]:
    """The principal and its agency, if the actor may see it (an operator sees all); locked
    for a change when ``lock``."""
    query = _with_agency().where(Principal.id == principal_id)
    if actor is not None:
        query = query.where(visible_to(actor))
    if lock:
        query = query.with_for_update(of=Principal)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFoundError(f"no principal {principal_id} that you may see")
    principal, agency = row
    return principal, agency


async def _audit(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    principal: Principal,
    agency: Agency,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(principal.id),
        countries=(agency.owner_country,),
        details=details,
    )


async def create_principal(
    session: AsyncSession,
    *,
    agency_id: uuid.UUID,
    role: Role,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    actor: Actor | None = None,
) -> Principal:
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise InvalidInputError(f"there is no agency {agency_id}", field="agency_id")
    if actor is not None:
        policy.require(actor, policy.Action.MANAGE_PRINCIPALS, agency)
        policy.require_grantable(actor, role)
    if agency.kind not in ROLE_AGENCY_KINDS[role]:
        allowed = ", ".join(sorted(kind.value for kind in ROLE_AGENCY_KINDS[role]))
        raise InvalidInputError(
            f"role {role.value} belongs to an agency of kind {allowed}, "
            f"not {agency.kind.value} ({agency.name})"
        )
    principal = Principal(agency_id=agency_id, role=role, name=name, email=email, phone=phone)
    session.add(principal)
    await session.flush()
    await _audit(
        session,
        actor,
        "principal.created",
        principal,
        agency,
        {"agency_id": str(agency_id), "role": role.value},
    )
    return principal


async def set_disabled(
    session: AsyncSession, actor: Actor | None, principal_id: uuid.UUID, *, disabled: bool
) -> PrincipalOut:
    """Disable (every token stops at once) or enable a principal. Idempotent: doing it again
    changes nothing and writes no audit entry."""
    principal, agency = await load(session, actor, principal_id, lock=True)
    if actor is not None:
        policy.require(actor, policy.Action.MANAGE_PRINCIPALS, principal)
        if disabled and principal.id == actor.principal_id:
            raise ConflictError(
                "you cannot disable yourself: another manager of your agency's principals can"
            )
    if (principal.disabled_at is not None) == disabled:
        return view(principal, agency)
    principal.disabled_at = await session.scalar(select(func.now())) if disabled else None
    await session.flush()
    await _audit(
        session,
        actor,
        "principal.disabled" if disabled else "principal.enabled",
        principal,
        agency,
    )
    return view(principal, agency)


# --- the API's use cases --------------------------------------------------------------------


async def add(session: AsyncSession, actor: Actor, draft: PrincipalCreate) -> PrincipalOut:
    principal = await create_principal(
        session,
        agency_id=draft.agency_id,
        role=draft.role,
        name=draft.name,
        email=draft.email,
        phone=draft.phone,
        actor=actor,
    )
    agency = await session.get_one(Agency, draft.agency_id)
    return view(principal, agency)


async def get(session: AsyncSession, actor: Actor, principal_id: uuid.UUID) -> PrincipalOut:
    return view(*await load(session, actor, principal_id))


async def change(
    session: AsyncSession, actor: Actor, principal_id: uuid.UUID, draft: PrincipalChange
) -> PrincipalOut:
    principal, agency = await load(session, actor, principal_id, lock=True)
    policy.require(actor, policy.Action.MANAGE_PRINCIPALS, principal)
    changed = sorted(
        field
        for field in draft.model_fields_set
        if getattr(draft, field) != getattr(principal, field)
    )
    if changed:
        for field in changed:
            setattr(principal, field, getattr(draft, field))
        await session.flush()
        await _audit(session, actor, "principal.changed", principal, agency, {"fields": changed})
    return view(principal, agency)


@dataclass(frozen=True, slots=True)
class PrincipalFilter:
    country: str | None = None
    agency_id: uuid.UUID | None = None
    role: Role | None = None
    include_disabled: bool = False

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.country is not None:
            clauses.append(Agency.country_code == self.country)
        if self.agency_id is not None:
            clauses.append(Principal.agency_id == self.agency_id)
        if self.role is not None:
            clauses.append(Principal.role == self.role)
        if not self.include_disabled:
            clauses.append(Principal.disabled_at.is_(None))
        return clauses


async def list_principals(
    session: AsyncSession,
    actor: Actor,
    filters: PrincipalFilter,
    *,
    cursor: str | None,
    limit: int,
) -> PrincipalPage:
    query = _with_agency().where(visible_to(actor), *filters.clauses())
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(
            tuple_(Principal.created_at, Principal.id) < tuple_(after.created_at, after.id)
        )
    query = query.order_by(Principal.created_at.desc(), Principal.id.desc()).limit(limit + 1)
    rows: list[Row[Principal, Agency]] = list(await session.execute(query))
    page, more = rows[:limit], len(rows) > limit
    last = page[-1][0] if more else None
    return PrincipalPage(
        items=[view(principal, agency) for principal, agency in page],
        next_cursor=Cursor(last.created_at, last.id).encode() if last else None,
    )


async def describe_caller(session: AsyncSession, actor: Actor) -> MeOut:
    """Who the caller is: its principal, agency and the token it called with."""
    policy.require(
        actor,
        policy.Action.READ_PEOPLE,
        policy.Owner(agency_id=actor.agency_id, principal_id=actor.principal_id),
    )
    principal, agency, token = (
        await session.execute(
            _with_agency()
            .add_columns(ApiToken)
            .join(ApiToken, ApiToken.principal_id == Principal.id)
            .where(Principal.id == actor.principal_id, ApiToken.id == actor.token_id)
        )
    ).one()
    return MeOut(
        principal_id=principal.id,
        name=principal.name,
        role=principal.role,
        agency=agencies.view(agency),
        token=CallerToken(prefix=token.prefix, label=token.label, expires_at=token.expires_at),
    )
