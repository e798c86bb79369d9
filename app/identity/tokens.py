"""Bearer tokens of principals: issue, list, rotate, revoke.

A token is shown once, when it is made; only its prefix (a public handle) and a hash are
kept. Nothing here ever writes either the token or its hash anywhere else: not in an answer
after the first, not in an audit entry. A token is never deleted: revoked, it stays listed.

Who may manage a principal's tokens is app/identity/policy.py's MANAGE_TOKENS over the
principal: the principal itself (so a system rotates its own credentials), its country's
NCB, the General Secretariat. Functions take ``actor`` None for an operator at the command line.

A web session (app/identity/sessions.py) makes no tokens: neither a new one nor a
rotation. Whatever it made would be a token of its own, outliving the sign-out, the
revocation and the expiry of the token the person signed in with; a session must never
outlast or outrank where it came from. It may still revoke: that only takes access away.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, case, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager

from app import audit
from app.core.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.directory import principals
from app.directory.people_schemas import TokenCreate, TokenIssued, TokenOut, TokenPage, TokenState
from app.identity import policy
from app.identity.auth import Actor, new_token
from app.models import Agency, ApiToken, Principal
from app.models.enums import Role

OBJECT_TYPE = "api_token"

_replacement = aliased(ApiToken)
_STATE = case(
    (ApiToken.revoked_at.is_not(None), TokenState.REVOKED.value),
    (ApiToken.expires_at <= func.now(), TokenState.EXPIRED.value),
    else_=TokenState.ACTIVE.value,
).label("state")


def _listing() -> Select[ApiToken, str, str | None, Principal, Agency]:
    """Tokens with what a view and a decision need: their state as the database sees it now,
    their replacement's prefix, their principal and its agency."""
    return (
        select(ApiToken, _STATE, _replacement.prefix, Principal, Agency)
        .join(Principal, ApiToken.principal_id == Principal.id)
        .join(Agency, Principal.agency_id == Agency.id)
        .outerjoin(_replacement, ApiToken.replaced_by == _replacement.id)
        .options(contains_eager(ApiToken.principal).contains_eager(Principal.agency))
    )


def _view(token: ApiToken, state: str, replaced_by: str | None) -> TokenOut:
    return TokenOut(
        prefix=token.prefix,
        principal_id=token.principal_id,
        label=token.label,
        state=TokenState(state),
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        replaced_by=replaced_by,
    )


def _issued(token: ApiToken, secret: str) -> TokenIssued:
    return TokenIssued(**_view(token, TokenState.ACTIVE, None).model_dump(), token=secret)


async def _now(session: AsyncSession) -> datetime:
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    return now


async def issue(
    session: AsyncSession,
    actor: Actor | None,
    *,
    principal_id: uuid.UUID,
    country: str | None,
    label: str,
    expires_at: datetime | None,
    signed_in_with: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Make a token and audit it; with ``signed_in_with``, a web session signed in with that
    token (app/identity/sessions.py), audited as ``session.started``. No
    authorization: the use cases decide."""
    made = new_token()
    token = ApiToken(
        principal_id=principal_id,
        prefix=made.prefix,
        secret_hash=made.secret_hash,
        label=label,
        expires_at=expires_at,
        signed_in_with=signed_in_with.id if signed_in_with else None,
    )
    session.add(token)
    await session.flush()  # RETURNING fills created_at: no second round trip
    details = {
        "principal_id": str(principal_id),
        "prefix": made.prefix,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    if signed_in_with is not None:
        details["signed_in_with"] = signed_in_with.prefix
    await audit.record(
        session,
        actor,
        "session.started" if signed_in_with else "token.created",
        object_type=OBJECT_TYPE,
        object_id=str(token.id),
        countries=(country,),
        details=details,
    )
    return token, made.token


async def issue_token(
    session: AsyncSession,
    *,
    principal_id: uuid.UUID,
    label: str = "",
    expires_at: datetime | None = None,
    actor: Actor | None = None,
) -> str:
    """Create a token for the principal and return it: the only time it is ever seen. No
    authorization: for the command line and seeding; the API goes through :func:`create`."""
    agency = await session.scalar(
        select(Agency)
        .join(Principal, Principal.agency_id == Agency.id)
        .where(Principal.id == principal_id)
    )
    if agency is None:
        raise NotFoundError(f"no principal {principal_id}")
    _, secret = await issue(
        session,
        actor,
        principal_id=principal_id,
        country=agency.owner_country,
        label=label,
        expires_at=expires_at,
    )
    return secret


async def _managed(
    session: AsyncSession, actor: Actor | None, principal_id: uuid.UUID
) -> tuple[Principal, Agency]:
    """The principal whose tokens the actor manages: 404 if it may not see it, 403 if it
    sees it but may not manage its tokens."""
    principal, agency = await principals.load(session, actor, principal_id)
    if actor is not None:
        policy.require(actor, policy.Action.MANAGE_TOKENS, principal)
    return principal, agency


def _refuse_web_session(actor: Actor | None, what: str) -> None:
    if actor is not None and actor.is_web_session:
        raise ForbiddenError(
            f"a dashboard session cannot {what}: a token made from it would outlive the "
            "session and the token you signed in with. Call the API with your own token "
            "(Authorization: Bearer) instead"
        )


def _refuse_disabled(principal: Principal) -> None:
    if principal.disabled_at is not None:
        raise ConflictError(
            f"principal {principal.id} is disabled: no token of it would work; enable it first"
        )


async def create(
    session: AsyncSession, actor: Actor, principal_id: uuid.UUID, draft: TokenCreate
) -> TokenIssued:
    _refuse_web_session(actor, "create tokens")
    principal, agency = await _managed(session, actor, principal_id)
    _refuse_disabled(principal)
    if draft.expires_at is not None and draft.expires_at <= await _now(session):
        raise InvalidInputError(
            "is not in the future; the token would never work", field="expires_at"
        )
    token, secret = await issue(
        session,
        actor,
        principal_id=principal.id,
        country=agency.owner_country,
        label=draft.label,
        expires_at=draft.expires_at,
    )
    return _issued(token, secret)


async def list_for_principal(
    session: AsyncSession,
    actor: Actor,
    principal_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> TokenPage:
    await _managed(session, actor, principal_id)
    query = _listing().where(ApiToken.principal_id == principal_id)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(
            tuple_(ApiToken.created_at, ApiToken.id) < tuple_(after.created_at, after.id)
        )
    query = query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()).limit(limit + 1)
    rows = list(await session.execute(query))
    page, more = rows[:limit], len(rows) > limit
    last = page[-1][0] if more else None
    return TokenPage(
        items=[_view(token, state, replaced_by) for token, state, replaced_by, _, _ in page],
        next_cursor=Cursor(last.created_at, last.id).encode() if last else None,
    )


@dataclass(frozen=True, slots=True)
class _Locked:
    token: ApiToken
    state: TokenState
    replaced_by: str | None
    principal: Principal
    agency: Agency

    @property
    def country(self) -> str | None:
        """The country the token's principal belongs to (none: the General Secretariat)."""
        return self.agency.owner_country


async def _lock(session: AsyncSession, actor: Actor | None, prefix: str) -> _Locked:
    """The token with this prefix, locked, if the actor may manage it: 404 if it may not see
    its principal, 403 if it sees it but may not manage its tokens."""
    query = _listing().where(ApiToken.prefix == prefix).with_for_update(of=ApiToken)
    if actor is not None:
        query = query.where(principals.visible_to(actor))
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFoundError(f"no token with prefix {prefix} that you may see")
    token, state, replaced_by, principal, agency = row
    if actor is not None:
        policy.require(actor, policy.Action.MANAGE_TOKENS, principal)
    return _Locked(token, TokenState(state), replaced_by, principal, agency)


async def revoke_token(
    session: AsyncSession, *, prefix: str, actor: Actor | None = None
) -> TokenOut:
    """Revoke the token with this prefix. It stops working at once on REST, and every open
    socket it authenticated is closed within seconds, on every instance. Idempotent: a token
    revoked before is left as it is."""
    found = await _lock(session, actor, prefix)
    token = found.token
    if token.revoked_at is None:
        token.revoked_at = await _now(session)
        await session.flush()
        # The web sessions signed in with it end with it (app/identity/sessions.py).
        await session.execute(
            update(ApiToken)
            .where(ApiToken.signed_in_with == token.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=token.revoked_at)
        )
        await audit.record(
            session,
            actor,
            "token.revoked",
            object_type=OBJECT_TYPE,
            object_id=str(token.id),
            countries=(found.country,),
            details={"principal_id": str(token.principal_id), "prefix": token.prefix},
        )
    return _view(token, TokenState.REVOKED, found.replaced_by)


async def rotate_token(
    session: AsyncSession, *, prefix: str, overlap: timedelta, actor: Actor | None = None
) -> TokenIssued:
    """Replace a working token by a new one of the same principal, label and lifetime. The
    old one keeps working for ``overlap`` (never past its own expiry), so whatever uses it can
    switch without a gap; then it expires."""
    _refuse_web_session(actor, "rotate tokens")
    found = await _lock(session, actor, prefix)
    old = found.token
    if old.signed_in_with is not None:
        # Its replacement would be a free-standing token, no longer a session.
        raise ConflictError(f"token {prefix} is a dashboard session: sign in again, not rotate")
    _refuse_disabled(found.principal)
    if found.state is not TokenState.ACTIVE:
        raise ConflictError(f"token {prefix} is {found.state.value}: only a working token rotates")
    if found.replaced_by is not None:
        raise ConflictError(
            f"token {prefix} was already rotated, to {found.replaced_by}: rotate that one"
        )
    now = await _now(session)
    lifetime = old.expires_at - old.created_at if old.expires_at is not None else None
    new, secret = await issue(
        session,
        actor,
        principal_id=old.principal_id,
        country=found.country,
        label=old.label,
        expires_at=now + lifetime if lifetime is not None else None,
    )
    old.expires_at = min(old.expires_at, now + overlap) if old.expires_at else now + overlap
    old.replaced_by = new.id
    await session.flush()
    # Its web sessions expire with it, not later.
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.signed_in_with == old.id,
            func.coalesce(ApiToken.expires_at, old.expires_at) > old.expires_at,
        )
        .values(expires_at=old.expires_at)
    )
    await audit.record(
        session,
        actor,
        "token.rotated",
        object_type=OBJECT_TYPE,
        object_id=str(old.id),
        countries=(found.country,),
        details={
            "principal_id": str(old.principal_id),
            "prefix": old.prefix,
            "replaced_by": new.prefix,
            "old_expires_at": old.expires_at.isoformat(),
        },
    )
    return _issued(new, secret)


# --- the command line -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token with its principal and agency, as the command line lists it."""

    token: TokenOut
    principal_name: str
    role: Role
    principal_disabled: bool
    agency_name: str
    country: str


async def find_tokens(
    session: AsyncSession,
    *,
    principal_id: uuid.UUID | None = None,
    agency_id: uuid.UUID | None = None,
    country: str | None = None,
) -> list[TokenRow]:
    """Every token, or those of a principal, an agency or a country's agencies."""
    clauses: list[ColumnElement[bool]] = []
    if principal_id is not None:
        clauses.append(ApiToken.principal_id == principal_id)
    if agency_id is not None:
        clauses.append(Principal.agency_id == agency_id)
    if country is not None:
        clauses.append(Agency.country_code == country)
    rows = await session.execute(
        _listing()
        .where(*clauses)
        .order_by(Agency.country_code, Agency.name, Principal.name, ApiToken.created_at)
    )
    return [
        TokenRow(
            token=_view(token, state, replaced_by),
            principal_name=principal.name,
            role=principal.role,
            principal_disabled=principal.disabled_at is not None,
            agency_name=agency.name,
            country=agency.country_code,
        )
        for token, state, replaced_by, principal, agency in rows
    ]
