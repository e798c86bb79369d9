"""Admission: which HTTP requests may hold one of the RELAY247_MAX_IN_FLIGHT slots, and for
how long a client may keep one without sending.

The bound itself: without it, a burst beyond what the database pool serves waits in the
pool's queue, every request gets slower, and the slowest fail with a 500 after 30 s. Refusing
the excess at the door (503, before its body is read) keeps the accepted requests as fast as
the pool allows. No waiting room: a request that cannot start now would wait for another to
finish, which is what the pool's queue already did.

A bound on slots is only as good as the slots' turnover: a client that sends the head of a
request and then nothing would keep its slot for as long as it likes, and forty of them
would shut everyone out. So, before a slot is given for longer than a token lookup:

- The caller is authenticated from its bearer token or session cookie before a byte of its
  body is read, and an API call without a working one is answered 401 at once (FastAPI would
  read, and wait for, the whole body before solving its dependencies). The dependencies in
  app/api/deps.py then take the actor found here instead of looking it up again; a token
  found working in the last RECENT_SECONDS is admitted without a lookup, and then looked up
  by the request's own transaction, as before admission existed.
- One principal holds at most RELAY247_MAX_IN_FLIGHT_PER_PRINCIPAL of the slots (by default
  half), whichever of its tokens or sessions it calls with: a token holder's slow uploads or
  bodies cannot shut the other principals out.
- Callers without a working token or session (the sign-in page and form, the API document)
  share RELAY247_MAX_ANONYMOUS_IN_FLIGHT of the slots, one client address at most
  RELAY247_MAX_ANONYMOUS_IN_FLIGHT_PER_PEER of them: whatever anonymous clients do, the rest
  is kept for who is signed in, and one address cannot keep the others from signing in.
- Static files (the dashboard's scripts and styles, the API docs' assets) take no slot: they
  are read from disk, the same for anyone, and use no database connection, which is what the
  slots ration. Counted, a signed-in browser fetching a page's modules at once would be shed
  by whatever the anonymous share or the API load is doing at the time.
- A body must arrive within RELAY247_BODY_RECEIVE_TIMEOUT, an upload's each chunk within it
  (a large file takes minutes on a slow link). Past it the request is answered 408 and its
  connection closed (or, if its response had begun, the connection is dropped) and the
  application, which sees the client gone, ends and gives the slot back.

The limits are read from ``app.state`` (set by create_app) on each request, so a test can
lower them on a running app, as it does other settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass

from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import ClientDisconnect, cookie_parser
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import problem
from app.core.database import Database
from app.core.database.faults import is_unavailable
from app.core.errors import UnauthenticatedError
from app.core.observability.metrics import Metrics
from app.core.serving import abort_of
from app.identity import sessions
from app.identity.auth import Actor, authenticate

log = logging.getLogger(__name__)
# Probes and scrapes must answer while the service is saturated: that is when they matter.
NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics"})
# A second is long against a transaction of a few milliseconds and short for a person.
RETRY_AFTER_SECONDS = 1
# Every route under it needs a token or session (the OpenAPI document says so of each).
API_PREFIX = "/v1/"
# Under it, but authenticated by what the path carries (an alert's one-time acknowledge link,
# app/alerts/ack_links.py; a calendar feed's link, app/rosters/calendar_feed.py), not by a
# token: served to anyone, as a page is.
SELF_AUTHENTICATED = ("/v1/ack-links/", "/v1/calendar/")
# A body this small travels with its head (one or two TCP segments on any network).
_SMALL_BODY = 64 * 1024
# How long, and for how many tokens, a token found working admits its caller without a lookup.
RECENT_SECONDS = 2.0
RECENT_MAX = 4096
# The key in the request's state (request.state) of the Admitted caller.
ADMITTED = "admitted"


@dataclass(frozen=True, slots=True)
class Admitted:
    """Who the request was authenticated as, and by which credential: a dependency that
    would pick the other one must look it up itself."""

    actor: Actor
    by_cookie: bool
    # Found by a lookup for this request, not remembered from an earlier one: only then may
    # the application take it as it is (app/api/deps.py).
    looked_up: bool = True


@dataclass(slots=True)
class AdmissionLimits:
    """``app.state.admission``; the total is ``app.state.max_in_flight``."""

    max_anonymous: int
    max_anonymous_per_peer: int
    max_per_principal: int
    body_timeout: float


class Admission:
    """Pure ASGI. WebSocket upgrades pass through: a socket is long-lived, authenticates in
    its first frame within RELAY247_WS_AUTH_TIMEOUT, and what it costs does not grow with the
    events waiting for it (see app/realtime/hub.py)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        streamed: re.Pattern[str],
        static: tuple[str, ...],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.streamed = streamed  # paths whose body is read chunk by chunk: an upload
        self.static = static  # prefixes of static files: no slot, no lookup
        # One event loop per process runs every request: plain counters are exact.
        self.in_flight = 0
        self.anonymous = 0
        self.anonymous_by_peer: dict[str, int] = {}
        self.by_principal: dict[uuid.UUID, int] = {}
        self.recent = _RecentCallers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not path or path in NEVER_SHED or path.startswith(self.static):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        limits: AdmissionLimits = state.admission
        api = path.startswith(API_PREFIX) and not path.startswith(SELF_AUTHENTICATED)
        credential = _credential(scope)
        if api and credential is None and _routed(scope):
            await _unauthenticated(scope, "send Authorization: Bearer <token>")(
                scope, receive, send
            )
            return
        limit: int = state.max_in_flight
        if self.in_flight >= limit:
            await self._shed(
                scope,
                receive,
                send,
                "overload",
                f"its limit of {limit} requests",
                close=credential is None or self._body_may_follow(scope),
            )
            return
        peer = scope["client"][0] if scope.get("client") else "unknown"
        if credential is None and not self._anonymous_room(peer, limits):
            await self._shed(
                scope, receive, send, "anonymous", _anonymous_share(limits), close=_has_body(scope)
            )
            return
        self.in_flight += 1
        self.metrics.http_requests_in_flight.inc()
        anonymous_peer: str | None = None
        principal: uuid.UUID | None = None
        try:
            if credential is None:
                anonymous_peer = self._take_anonymous(peer)
            else:
                try:
                    admitted = await self._admit(scope, *credential)
                except UnauthenticatedError as exc:
                    if api:
                        await _unauthenticated(scope, exc.detail)(scope, receive, send)
                        return
                    # A page with a stale session cookie: served as to anyone.
                    if not self._anonymous_room(peer, limits):
                        await self._shed(
                            scope,
                            receive,
                            send,
                            "anonymous",
                            _anonymous_share(limits),
                            close=_has_body(scope),
                        )
                        return
                    anonymous_peer = self._take_anonymous(peer)
                else:
                    if admitted is not None:
                        principal = admitted.actor.principal_id
                        held = self.by_principal.get(principal, 0)
                        if held >= limits.max_per_principal:
                            principal = None
                            await self._shed(
                                scope,
                                receive,
                                send,
                                "principal",
                                f"its limit of {limits.max_per_principal} requests from "
                                "one principal",
                                close=self._body_may_follow(scope),
                            )
                            return
                        self.by_principal[principal] = held + 1
                        if admitted.looked_up:
                            scope.setdefault("state", {})[ADMITTED] = admitted
            await self._bounded(scope, receive, send, limits.body_timeout)
        finally:
            if anonymous_peer is not None:
                self._release_anonymous(anonymous_peer)
            if principal is not None:
                self._release_principal(principal)
            self.in_flight -= 1
            self.metrics.http_requests_in_flight.dec()

    async def _admit(self, scope: Scope, token: str, by_cookie: bool) -> Admitted | None:
        """Who the caller is, from a lookup, or from one of the last RECENT_SECONDS (raises
        UnauthenticatedError; None when the database cannot say now)."""
        key = hashlib.sha256(token.encode()).digest()
        now = asyncio.get_running_loop().time()
        recent = self.recent.get(key, now)
        if recent is not None:
            return Admitted(recent, by_cookie, looked_up=False)
        admitted = await _authenticate(scope, token, by_cookie)
        if admitted is not None:
            self.recent.put(key, admitted.actor, now)
        return admitted

    def _body_may_follow(self, scope: Scope) -> bool:
        """Whether a body may still be arriving after the head: an upload's, a chunked one, or
        one larger than travels with its head (or whose length does not parse)."""
        if self.streamed.fullmatch(scope["path"]) is not None:
            return True
        for name, value in scope["headers"]:
            if name == b"transfer-encoding":
                return True
            if name == b"content-length":
                return not value.isdigit() or int(value) > _SMALL_BODY
        return False

    def _release_principal(self, principal: uuid.UUID) -> None:
        left = self.by_principal[principal] - 1
        if left:
            self.by_principal[principal] = left
        else:
            del self.by_principal[principal]

    def _anonymous_room(self, peer: str, limits: AdmissionLimits) -> bool:
        return (
            self.anonymous < limits.max_anonymous
            and self.anonymous_by_peer.get(peer, 0) < limits.max_anonymous_per_peer
        )

    def _take_anonymous(self, peer: str) -> str:
        self.anonymous += 1
        self.anonymous_by_peer[peer] = self.anonymous_by_peer.get(peer, 0) + 1
        return peer

    def _release_anonymous(self, peer: str) -> None:
        self.anonymous -= 1
        left = self.anonymous_by_peer[peer] - 1
        if left:
            self.anonymous_by_peer[peer] = left
        else:
            del self.anonymous_by_peer[peer]

    async def _shed(
        self, scope: Scope, receive: Receive, send: Send, reason: str, what: str, *, close: bool
    ) -> None:
        """503 without reading the body. ``close``: end the connection after it, the only way
        to be done with a body that may keep coming. A small body from a caller with a token
        came with its head: uvicorn drops it, and the connection is kept for the retry (under
        overload, a new connection per refusal made refusals 40 times slower, answers twice)."""
        self.metrics.http_requests_shed.labels(reason).inc()
        response = problem(
            503,
            "Service overloaded",
            f"the service is processing {what}; nothing was done, retry in {RETRY_AFTER_SECONDS} s",
            slug="overloaded",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        if close:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, bound: float) -> None:
        """The application, with its body bounded in time. Once the body is late, the client
        is answered here; the application is told the client left (http.disconnect), and
        whatever it still sends is dropped."""
        loop = asyncio.get_running_loop()
        streamed = self.streamed.fullmatch(scope["path"]) is not None
        deadline = loop.time() + bound
        body_done = timed_out = started = False

        async def bounded_receive() -> Message:
            nonlocal body_done, timed_out, deadline
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:  # what is left to hear is the client leaving: no bound on that
                return await receive()
            if streamed:
                deadline = loop.time() + bound
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                await self._body_timed_out(scope, send, bound, started=started)
                return {"type": "http.disconnect"}
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracked_send)
        except ClientDisconnect:
            # What a route that reads its body itself raises on the disconnect it was told
            # of: the client was answered already.
            if not timed_out:
                raise

    async def _body_timed_out(
        self, scope: Scope, send: Send, bound: float, *, started: bool
    ) -> None:
        self.metrics.http_requests_shed.labels("body_timeout").inc()
        log.warning("request body not received within %g s: refused", bound)
        if started:  # too late for an answer: the client sees the connection end
            abort = abort_of(scope)
            if abort is not None:
                abort()
            return
        response = problem(
            408,
            "Request body too slow",
            f"the request body did not arrive within {bound:g} s (an upload: a chunk of "
            "it); nothing was done",
            slug="body-timeout",
        )
        # The rest of the body may still come: closing is the only way to be done with it.
        response.headers["Connection"] = "close"

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


class _RecentCallers:
    """Tokens found working in the last RECENT_SECONDS, by their SHA-256: a case system's
    stream of requests costs admission one lookup every RECENT_SECONDS, not one per request.

    Admission only decides who may hold a slot. A request admitted on a remembered token is
    looked up again in its own transaction (app/api/deps.py), as every request was before
    admission authenticated, so a token revoked meanwhile is refused there and never acted
    on; it held a slot for a moment at most."""

    def __init__(self) -> None:
        self._actors: dict[bytes, tuple[float, Actor]] = {}

    def get(self, key: bytes, now: float) -> Actor | None:
        found = self._actors.get(key)
        return found[1] if found is not None and now < found[0] else None

    def put(self, key: bytes, actor: Actor, now: float) -> None:
        self._actors.pop(key, None)
        if len(self._actors) >= RECENT_MAX:
            del self._actors[next(iter(self._actors))]  # the oldest remembered
        self._actors[key] = (now + RECENT_SECONDS, actor)


def _anonymous_share(limits: AdmissionLimits) -> str:
    return (
        f"its limit of {limits.max_anonymous} requests from callers not signed in, at most "
        f"{limits.max_anonymous_per_peer} from one address"
    )


def _credential(scope: Scope) -> tuple[str, bool] | None:
    """The caller's token, and whether it is the session cookie: the bearer token first,
    as app/api/deps.py takes it."""
    authorization = cookies = None
    for name, value in scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"cookie" and cookies is None:
            cookies = value.decode("latin-1")
    if authorization:
        scheme, token = get_authorization_scheme_param(authorization)
        if scheme.lower() == "bearer" and token:
            return token, False
    if cookies:
        cookie = cookie_parser(cookies).get(sessions.COOKIE)
        if cookie:
            return cookie, True
    return None


async def _authenticate(scope: Scope, token: str, by_cookie: bool) -> Admitted | None:
    """The caller (raises UnauthenticatedError when the token does not work), or None when
    the database cannot say now: the application's own lookup then answers as it does
    during an outage (503, or the page saying so).

    One statement on a connection in autocommit, not a transaction: no BEGIN and COMMIT
    round trips on every request for a single read."""
    database: Database = scope["app"].state.database
    remote = scope["client"][0] if scope.get("client") else None
    try:
        async with database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            actor = await authenticate(autocommit, token, remote)
    except UnauthenticatedError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            return None
        raise
    return Admitted(actor, by_cookie)


def _unauthenticated(scope: Scope, detail: str) -> ASGIApp:
    response = problem(401, UnauthenticatedError.title, detail, slug=UnauthenticatedError.slug)
    if _has_body(scope):
        # Its body is not read: closing is the only way to be done with it.
        response.headers["Connection"] = "close"
    return response


def _routed(scope: Scope) -> bool:
    """Whether a route takes this path (any method): an unknown one stays a 404, found as for
    anyone. Only asked for callers without a token, off the hot path."""
    return any(route.matches(scope)[0] is not Match.NONE for route in scope["app"].router.routes)


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False
