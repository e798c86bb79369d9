"""Dependencies shared by the routes: the unit of work and the authenticated actor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.api import rate_limit
from app.api.admission import ADMITTED, Admitted
from app.core.database import Database
from app.core.errors import UnauthenticatedError
from app.core.settings import Settings
from app.identity import sessions
from app.identity.auth import Actor, authenticate, ensure_still_usable


async def get_database(request: Request) -> Database:
    # async, though it awaits nothing: a plain def dependency would run in the threadpool,
    # a thread hop on every request.
    database: Database = request.app.state.database
    return database


async def get_settings(request: Request) -> Settings:
    # The settings create_app was given: a route hands what its use case needs down as
    # arguments, so the domain never reads the environment.
    settings: Settings = request.app.state.settings
    return settings


async def _unit_of_work(
    database: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    async with database.transaction() as session:
        yield session


# scope="function": the transaction commits when the route returns, before the response is
# sent, so a client that has its 201 can read what it made from any instance.
Session = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="r247_… token")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _credentials(request: Request, bearer: HTTPAuthorizationCredentials | None) -> tuple[str, bool]:
    """The caller's token: the bearer token, else the dashboard's session cookie, which a
    state-changing call must back with the page's CSRF token (app/directory/
    sessions.py). Also whether it is the cookie."""
    if len(request.headers.getlist("authorization")) > 1:
        # Which one counts is ambiguous (a proxy may act on the last, this service on the
        # first): neither is taken.
        raise UnauthenticatedError("send one Authorization header, not several")
    if bearer is not None:
        return bearer.credentials, False
    cookie = request.cookies.get(sessions.COOKIE)
    if cookie is None:
        raise UnauthenticatedError("send Authorization: Bearer <token>")
    if request.method not in _SAFE_METHODS:
        sessions.require_csrf(cookie, request.headers.get(sessions.CSRF_HEADER))
    return cookie, True


def admitted_actor(request: Request, *, by_cookie: bool) -> Actor | None:
    """The actor app/api/admission.py authenticated this request as, if it did so with the
    credential the caller would be looked up by now."""
    admitted: Admitted | None = getattr(request.state, ADMITTED, None)
    if admitted is None or admitted.by_cookie != by_cookie:
        return None
    return admitted.actor


async def _current_actor(
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    token, by_cookie = _credentials(request, credentials)
    actor = admitted_actor(request, by_cookie=by_cookie)
    # A call that may write holds its token FOR SHARE to the end of its transaction
    # (app/identity/auth.py), checked again if it was admitted before its body arrived: a
    # revocation or sign-out answered meanwhile is never followed by the write's commit. A
    # read is answered on the actor as admitted.
    writes = request.method not in _SAFE_METHODS
    if actor is None:
        remote = request.client.host if request.client else None
        actor = await authenticate(session, token, remote, hold=writes)
    elif writes:
        await ensure_still_usable(session, actor)
    request.state.actor = actor  # for the audit of a refusal (app/api/problems.py)
    request.app.state.token_usage.mark(actor.token_id)
    await rate_limit.enforce(request, actor)
    return actor


CurrentActor = Annotated[Actor, Depends(_current_actor, scope="function")]


async def _actor_only(
    request: Request,
    database: Annotated[Database, Depends(get_database)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor, authenticated in a short transaction of its own: for a route that must not
    hold a connection for its whole length (an upload reads its body for minutes on a slow
    link) and opens its own transactions when it needs them. The token may stop working
    while the body arrives: the transaction that commits a write must call
    app/identity/auth.py's ensure_still_usable first."""
    token, by_cookie = _credentials(request, credentials)
    actor = admitted_actor(request, by_cookie=by_cookie)
    if actor is None:
        remote = request.client.host if request.client else None
        async with database.transaction() as session:
            actor = await authenticate(session, token, remote)
    request.state.actor = actor  # for the audit of a refusal (app/api/problems.py)
    request.app.state.token_usage.mark(actor.token_id)
    await rate_limit.enforce(request, actor)
    return actor


ActorOnly = Annotated[Actor, Depends(_actor_only)]
DatabaseOf = Annotated[Database, Depends(get_database)]
SettingsOf = Annotated[Settings, Depends(get_settings)]
