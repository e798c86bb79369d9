"""Web sessions: how a person at a desk signs in to the dashboard page.

A person pastes their token once; the service answers with a session, which is a token of
its own (``api_tokens`` row, ``signed_in_with`` the pasted one) kept in an HttpOnly cookie.
So a session is authenticated, expired, revoked and watched exactly like any token: its
sockets close within seconds of a sign-out, on every instance, through the token watch. It
lives at most ``RELAY247_WEB_SESSION_LIFETIME`` and never past the token it came from, and
revoking or rotating that token ends it too (app/identity/tokens.py). It makes no
token that could outlast it: no new token, no rotation, no session signed in with its own.

A cookie is sent by the browser on its own, so every state-changing call it authenticates
must also carry the session's CSRF token (a header, or a form field): a digest of the
cookie's secret, which the page gets in its HTML and another site can neither read nor
compute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ForbiddenError, UnauthenticatedError
from app.identity import tokens
from app.identity.auth import Actor, authenticate
from app.models import Agency, ApiToken, Country
from app.models.enums import AgencyKind

LABEL = "web session"
# Browsers send the cookie only to this site, never with a request another site starts.
COOKIE = "relay247_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True, slots=True)
class SignedIn:
    actor: Actor
    cookie: str  # the session's token: only ever in the Set-Cookie header
    expires_at: datetime


def csrf_token(cookie: str) -> str:
    digest = hashlib.sha256(b"relay247 csrf\0" + cookie.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def require_csrf(cookie: str, presented: str | None) -> None:
    """A state-changing call authenticated by the cookie must prove it comes from our page."""
    if presented is None or not hmac.compare_digest(
        csrf_token(cookie).encode(), presented.encode(errors="replace")
    ):
        raise ForbiddenError(
            f"a call authenticated by the session cookie must carry the page's {CSRF_HEADER}"
        )


def _refuse_session_token(actor: Actor) -> None:
    # A session signed in from a session would outlive its sign-out.
    if actor.is_web_session:
        raise ForbiddenError(
            "that is a dashboard session's token, not one to sign in with: use your own token"
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Whose session a token would open: what a person checks before signing in by a link."""

    name: str
    role: str
    agency: str
    country: str
    country_name: str


async def identify(session: AsyncSession, token: str, remote_addr: str | None) -> Identity:
    """Who holds ``token``, opening nothing (401 if it does not work, 403 if it is a
    session's own). A sign-in link is a link anyone can send: the page asks the person
    whether this is who they mean to be before it signs in (no login CSRF)."""
    actor = await authenticate(session, token, remote_addr)
    _refuse_session_token(actor)
    agency, country_name = (
        await session.execute(
            select(Agency, Country.name)
            .join(Country, Country.code == Agency.country_code)
            .where(Agency.id == actor.agency_id)
        )
    ).one()
    return Identity(
        name=actor.name,
        role=actor.role.value.replace("_", " "),
        agency=agency.name,
        country=agency.country_code,
        # The General Secretariat acts for the network, not the country it sits in.
        country_name="the network" if agency.kind is AgencyKind.GS else country_name,
    )


async def sign_in(
    session: AsyncSession, token: str, remote_addr: str | None, *, lifetime: timedelta
) -> SignedIn:
    """Open a session for the holder of ``token`` (401 if it does not work, 403 if it is a
    session's own), lasting ``lifetime`` (RELAY247_WEB_SESSION_LIFETIME) at most."""
    # Held FOR SHARE until the session is committed: a revocation, rotation or disabling of
    # its principal (which lock it FOR UPDATE) either comes first, and this sees it, or
    # waits, and then finds the session to end or cap with the token.
    actor = await authenticate(session, token, remote_addr, hold=True)
    _refuse_session_token(actor)
    pasted = await session.get_one(ApiToken, actor.token_id)
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    expires_at = now + lifetime
    if pasted.expires_at is not None:
        expires_at = min(expires_at, pasted.expires_at)
    _, cookie = await tokens.issue(
        session,
        actor,
        principal_id=actor.principal_id,
        country=actor.home_country,
        label=LABEL,
        expires_at=expires_at,
        signed_in_with=pasted,
    )
    return SignedIn(actor=actor, cookie=cookie, expires_at=expires_at)


async def sign_out(session: AsyncSession, actor: Actor) -> bool:
    """End the actor's session (False when its token is no session, or ended already)."""
    ended = await session.scalar(
        update(ApiToken)
        .where(
            ApiToken.id == actor.token_id,
            ApiToken.signed_in_with.is_not(None),
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
        .returning(ApiToken.prefix)
    )
    if ended is None:
        return False
    await audit.record(
        session,
        actor,
        "session.ended",
        object_type=tokens.OBJECT_TYPE,
        object_id=str(actor.token_id),
        countries=(actor.home_country,),
        details={"principal_id": str(actor.principal_id), "prefix": ended},
    )
    return True


async def end_replaced(session: AsyncSession, cookie: str | None, remote_addr: str | None) -> None:
    """End the session a new sign-in replaces on this browser, if it still works: its cookie
    is overwritten, so nothing would ever sign it out."""
    if not cookie:
        return
    try:
        actor = await authenticate(session, cookie, remote_addr)
    except UnauthenticatedError:
        return
    if actor.is_web_session:
        await sign_out(session, actor)
