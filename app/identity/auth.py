"""Bearer tokens and the authenticated actor.

A token reads ``r247_<prefix>_<secret>``: the 48-bit prefix is a public, indexed handle and
the 256-bit secret is never stored; only a SHA-256 of the whole token is. Tokens are random
and long, so a fast hash is the right one (nothing to brute-force), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Uuid, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.errors import UnauthenticatedError
from app.models import Agency, ApiToken, Principal, table_of
from app.models.enums import AgencyKind, Role

_SCHEME = "r247"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: a principal, on behalf of its agency, from a country."""

    principal_id: uuid.UUID
    token_id: uuid.UUID  # the token it authenticated with: revoking it ends its sockets too
    agency_id: uuid.UUID
    country: str
    role: Role
    name: str
    agency_kind: AgencyKind
    remote_addr: str | None = None
    # A web session's (the dashboard's cookie): the token it was signed in with. A session
    # acts with its principal's rights but makes no tokens (app/identity/tokens.py).
    signed_in_with: uuid.UUID | None = None

    @property
    def is_web_session(self) -> bool:
        return self.signed_in_with is not None

    @property
    def home_country(self) -> str | None:
        """The country the caller acts for; None for the General Secretariat's, which acts
        for the network (its agency's country is only where it sits)."""
        return None if self.agency_kind is AgencyKind.GS else self.country


@dataclass(frozen=True, slots=True)
class NewToken:
    token: str  # shown once, to whoever asked for it
    prefix: str
    secret_hash: bytes


def new_token() -> NewToken:
    prefix = secrets.token_hex(6)
    token = f"{_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(token=token, prefix=prefix, secret_hash=_digest(token))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_digest(token: str) -> bytes:
    """What is kept of a token made by :func:`new_token`: also of a calendar feed's link
    (app/rosters/calendar_feed.py), which is made and checked the same way."""
    return _digest(token)


def token_prefix(token: str) -> str | None:
    """The public prefix of a well-formed token, else None (see _prefix_of)."""
    return _prefix_of(token)


# Exactly what new_token() makes: 12 lower-case hex digits (token_hex(6)), then 43 URL-safe
# base64 characters (token_urlsafe(32)).
_TOKEN_SHAPE = re.compile(rf"{_SCHEME}_([0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}")


def _prefix_of(token: str) -> str | None:
    """The prefix of a token shaped like ours, else None: anything else (a NUL, non-ASCII, a
    wrong length) is malformed and never reaches a query."""
    shaped = _TOKEN_SHAPE.fullmatch(token)
    return shaped.group(1) if shaped else None


_tokens, _principals, _agencies = table_of(ApiToken), table_of(Principal), table_of(Agency)


def _usable() -> ColumnElement[bool]:
    """The one rule of whether a token still works: not revoked, not expired, and its
    principal not disabled. REST and the socket token watch both ask it, so a change to any
    of the three stops REST at once and closes the token's sockets on every instance."""
    return (
        _tokens.c.revoked_at.is_(None)
        & or_(_tokens.c.expires_at.is_(None), _tokens.c.expires_at > func.now())
        & _principals.c.disabled_at.is_(None)
    )


# Core, not ORM: this runs on every request and every socket handshake.
_LOOKUP = (
    select(
        _tokens.c.id.label("token_id"),
        _tokens.c.secret_hash,
        _tokens.c.signed_in_with,
        _principals.c.id,
        _principals.c.agency_id,
        _principals.c.role,
        _principals.c.name,
        _agencies.c.country_code,
        _agencies.c.kind.label("agency_kind"),
    )
    .join(_principals, _tokens.c.principal_id == _principals.c.id)
    .join(_agencies, _principals.c.agency_id == _agencies.c.id)
    .where(_tokens.c.prefix == bindparam("prefix"), _usable())
)
# FOR SHARE of the token and its principal, by a transaction that writes on the token's
# authority: whatever ends a token updates one of these rows (a revocation, a rotation, a
# sign-out its own; a revocation or rotation of the token a session was signed in with its
# session's too, app/identity/tokens.py; a disabling its principal's), so it waits
# for that transaction's commit, and a lock taken after it sees the row it left (Postgres
# re-checks a locked row's WHERE against its newest version). No write commits after a
# token's end was answered. One token row only: a session holding the token it was signed
# in with too would deadlock with that token's revocation, which locks it, then the session.
_HELD = (_tokens, _principals)
_LOOKUP_HELD = _LOOKUP.with_for_update(read=True, of=_HELD)
# An array parameter, not an IN list: one statement (and one prepared plan) however many
# sockets are open.
_UNUSABLE_AMONG = (
    select(_tokens.c.id)
    .join(_principals, _tokens.c.principal_id == _principals.c.id)
    .where(_tokens.c.id == any_(bindparam("ids", type_=ARRAY(Uuid))), ~_usable())
)
_HOLD_USABLE = (
    select(_tokens.c.id)
    .join(_principals, _tokens.c.principal_id == _principals.c.id)
    .where(_tokens.c.id == bindparam("id"), _usable())
    .with_for_update(read=True, of=_HELD)
)


async def authenticate(
    session: AsyncSession | AsyncConnection,
    token: str,
    remote_addr: str | None,
    *,
    hold: bool = False,
) -> Actor:
    """The actor ``token`` authenticates. With ``hold``, the token and its principal stay
    locked FOR SHARE until the transaction ends: for one that writes on its authority."""
    prefix = _prefix_of(token)
    if prefix is None:
        raise UnauthenticatedError("the bearer token is malformed: expected r247_<prefix>_<secret>")
    lookup = _LOOKUP_HELD if hold else _LOOKUP
    row = (await session.execute(lookup, {"prefix": prefix})).one_or_none()
    # Compare even when no row matched, so timing tells nothing about which prefixes exist.
    expected = row.secret_hash if row else b"\0" * 32
    if not hmac.compare_digest(expected, _digest(token)) or row is None:
        raise UnauthenticatedError(
            "the bearer token is unknown, revoked or expired, or its principal is disabled"
        )
    return Actor(
        principal_id=row.id,
        token_id=row.token_id,
        agency_id=row.agency_id,
        country=row.country_code,
        role=row.role,
        name=row.name,
        agency_kind=row.agency_kind,
        remote_addr=remote_addr,
        signed_in_with=row.signed_in_with,
    )


async def unusable_tokens(
    session: AsyncSession | AsyncConnection, token_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these tokens have stopped working (revoked, expired, or their principal
    disabled) since they authenticated."""
    ids = list(token_ids)
    if not ids:
        return set()
    return set((await session.scalars(_UNUSABLE_AMONG, {"ids": ids})).all())


async def ensure_still_usable(session: AsyncSession, actor: Actor) -> None:
    """The actor's token still works, and is held so until this transaction ends (see
    _HELD): for a write on the authority of an actor found earlier, by a socket's first frame
    or before a request's body arrived. One statement, by primary key."""
    if await session.scalar(_HOLD_USABLE, {"id": actor.token_id}) is None:
        raise UnauthenticatedError(
            "the bearer token was revoked or has expired, or its principal was disabled"
        )
