"""The dashboard's pages (shells the ES modules fill from the public API) and signing in and
out, which turn a pasted token into a session cookie and back (app/directory/
sessions.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.staticfiles import StaticFiles

from app.api.deps import DatabaseOf, SettingsOf, admitted_actor
from app.api.problems import RETRY_AFTER_SECONDS
from app.core.database import Database
from app.core.database.faults import is_unavailable
from app.core.errors import DomainError, ForbiddenError, UnauthenticatedError
from app.identity import policy, sessions
from app.identity.auth import Actor, authenticate
from app.models.enums import (
    EscalationTarget,
    Priority,
    RequestAction,
    RequestStatus,
    RequestType,
)
from app.requests import lifecycle
from app.sharing.agreement_schemas import STIX_TYPES
from app.web import navigation
from app.web.security import WEB_PREFIX

_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=_HERE / "templates")


class _Revalidated(StaticFiles):
    """Static files a browser asks again for each time (a 304 when unchanged): after a
    redeploy, no page may run yesterday's script against today's API."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


static_files = _Revalidated(directory=_HERE / "static")
STATIC = f"{WEB_PREFIX}/static"
templates.env.globals["static"] = STATIC
# What the scripts know of the lifecycle, from its one declaration: each page carries it as
# JSON, which static/js/lifecycle.js reads (a data block, which the CSP lets be inline).
templates.env.globals["lifecycle"] = {
    "open": [state.value for state in RequestStatus if not lifecycle.is_final(state)],
    "reason_required": [a.value for a in RequestAction if a in lifecycle.REASON_REQUIRED],
    "acknowledge_from": [s.value for s in lifecycle.states_allowing(RequestAction.ACKNOWLEDGE)],
    "receive_from": [s.value for s in lifecycle.states_allowing(RequestAction.RECEIVE)],
    "ends_unanswered": [a.value for a in lifecycle.ends_unanswered()],
}
# The escalation policy's words, from their one declaration (static/js/escalation.js).
templates.env.globals["policy_vocabulary"] = {
    "targets": [target.value for target in EscalationTarget],
    "priorities": [priority.value for priority in Priority],
    "types": [request_type.value for request_type in RequestType],
}
# The shared-data search's type filter (static/js/shared-data.js).
STIX_TYPE_CHOICES = sorted(STIX_TYPES)
router = APIRouter(prefix=WEB_PREFIX, include_in_schema=False)
# The service's address itself opens the dashboard.
root_router = APIRouter(include_in_schema=False)

SIGN_IN = f"{WEB_PREFIX}/sign-in"
IDENTITY = f"{SIGN_IN}/identity"
HOME = navigation.HOME
# A form carries one short field or two; anything longer is not ours.
_MAX_FORM_BYTES = 4096


class PageUnavailable(Exception):
    """The database cannot be reached: a person gets a page that says so and tries again by
    itself, not the API's problem document."""


@asynccontextmanager
async def _transaction(database: Database) -> AsyncIterator[AsyncSession]:
    try:
        async with database.transaction() as session:
            yield session
    except Exception as exc:
        if is_unavailable(exc):
            raise PageUnavailable from exc
        raise


async def _unavailable_page(request: Request, _: Exception) -> Response:
    return templates.TemplateResponse(
        request,
        "unavailable.html",
        {"retry_after": RETRY_AFTER_SECONDS},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
    )


def install(app: FastAPI) -> None:
    """The pages, their static files, and the page a person sees when the database is down."""
    app.mount(STATIC, static_files, name="web_static")
    app.include_router(root_router)
    app.include_router(router)
    app.add_exception_handler(PageUnavailable, _unavailable_page)


@dataclass(frozen=True, slots=True)
class SignedInPage:
    actor: Actor
    csrf_token: str


async def _signed_in(request: Request, database: DatabaseOf) -> SignedInPage | None:
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    admitted = admitted_actor(request, by_cookie=True)
    if admitted is not None:
        return SignedInPage(admitted, sessions.csrf_token(cookie))
    remote = request.client.host if request.client else None
    try:
        async with _transaction(database) as session:
            actor = await authenticate(session, cookie, remote)
    except UnauthenticatedError:
        return None
    return SignedInPage(actor, sessions.csrf_token(cookie))


SignedIn = Annotated[SignedInPage | None, Depends(_signed_in)]


def _to_sign_in() -> RedirectResponse:
    response = RedirectResponse(SIGN_IN, status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


def _page(request: Request, signed_in: SignedInPage, template: str, **context: object) -> Response:
    actor = signed_in.actor
    return templates.TemplateResponse(
        request,
        template,
        {
            "actor": actor,
            "csrf_token": signed_in.csrf_token,
            "navigation": navigation.links(actor.role),
            "receives_work": navigation.receives_work(actor.role),
            "home": HOME,
            **context,
        },
        headers={"Cache-Control": "no-store"},
    )


def same_origin(request: Request) -> bool:
    """A form posted from one of our own pages. Browsers name the page's origin on every
    POST; a request from another site (login CSRF) names that site."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser: nothing a cookie could be abused by
    return urlsplit(origin).netloc == request.headers.get("host")


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(body.decode(), max_num_fields=4, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in fields.items() if values}


def _sign_in_page(
    request: Request, error: str | None, status_code: int = 200, current: Actor | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "sign_in.html",
        {
            "error": error,
            "sign_in": SIGN_IN,
            "identity": IDENTITY,
            "home": HOME,
            "current": current,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


@root_router.get("/")
@router.get("")
async def web_root() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=307)


@root_router.get("/requests/{request_id}")
async def request_link(request_id: uuid.UUID) -> RedirectResponse:
    """An alert's link (the outbox's ``alert.path``, after RELAY247_PUBLIC_URL) opens the
    request's page."""
    return RedirectResponse(f"{WEB_PREFIX}/requests/{request_id}", status_code=307)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, signed_in: SignedIn) -> Response:
    # Signed in already, the page still shows: it may carry a sign-in link (the server never
    # sees its fragment), and the person must see whose session a sign-in would replace.
    return _sign_in_page(request, None, current=signed_in.actor if signed_in else None)


_DOES_NOT_WORK = "That token does not work: it is unknown, revoked or expired."


def _identity_problem(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail}, status_code=status_code, headers={"Cache-Control": "no-store"}
    )


@router.post(IDENTITY.removeprefix(WEB_PREFIX))
async def sign_in_identity(request: Request, database: DatabaseOf) -> Response:
    """Whose session a sign-in link's token would open, opening none: the page asks the
    person before it signs in. As guarded as the sign-in itself (same origin, no log)."""
    if not same_origin(request):
        return _identity_problem(403, "Ask from this site's own page.")
    token = (await _form(request)).get("token", "").strip()
    if not token:
        return _identity_problem(422, "The link carries no token.")
    remote = request.client.host if request.client else None
    try:
        async with _transaction(database) as session:
            identity = await sessions.identify(session, token, remote)
    except UnauthenticatedError:
        return _identity_problem(401, _DOES_NOT_WORK)
    except ForbiddenError as refused:
        return _identity_problem(403, refused.detail)
    return JSONResponse(
        {
            "name": identity.name,
            "role": identity.role,
            "agency": identity.agency,
            "country": identity.country,
            "country_name": identity.country_name,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, database: DatabaseOf, settings: SettingsOf) -> Response:
    if not same_origin(request):
        return _sign_in_page(request, "Sign in from this site's own page.", 403)
    token = (await _form(request)).get("token", "").strip()
    if not token:
        return _sign_in_page(request, "Paste your token (it starts with r247_).", 422)
    remote = request.client.host if request.client else None
    try:
        async with _transaction(database) as session:
            opened = await sessions.sign_in(
                session, token, remote, lifetime=settings.api.web_session_lifetime
            )
            await sessions.end_replaced(session, request.cookies.get(sessions.COOKIE), remote)
    except UnauthenticatedError:
        return _sign_in_page(request, _DOES_NOT_WORK, 401)
    except ForbiddenError as refused:
        return _sign_in_page(request, refused.detail, 403)
    response = RedirectResponse(HOME, status_code=303)
    response.set_cookie(
        sessions.COOKIE,
        opened.cookie,
        expires=opened.expires_at,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request, database: DatabaseOf) -> Response:
    cookie = request.cookies.get(sessions.COOKIE)
    if cookie:
        try:
            sessions.require_csrf(cookie, (await _form(request)).get(sessions.CSRF_FIELD))
        except DomainError:
            return Response("sign out from this site's own page", status_code=403)
        remote = request.client.host if request.client else None
        try:
            async with _transaction(database) as session:
                await sessions.sign_out(session, await authenticate(session, cookie, remote))
        except UnauthenticatedError:
            pass  # ended already: nothing more to end
    return _to_sign_in()


@router.get("/", response_class=HTMLResponse)
async def queue(request: Request, signed_in: SignedIn) -> Response:
    if signed_in is None:
        return _to_sign_in()
    # Who has no queue (an auditor) starts on the first page of their own.
    landing = navigation.landing(signed_in.actor.role)
    if landing != HOME:
        return RedirectResponse(landing, status_code=303)
    return _page(request, signed_in, "queue.html", page="queue")


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_page(request: Request, request_id: uuid.UUID, signed_in: SignedIn) -> Response:
    if signed_in is None:
        return _to_sign_in()
    return _page(request, signed_in, "request.html", page="request", request_id=request_id)


@router.get("/requests", response_class=HTMLResponse)
async def all_requests_page(request: Request, signed_in: SignedIn) -> Response:
    """Every request the reader may see, searched and filtered (static/js/requests.js); the
    choices offered are the API's own."""
    if signed_in is None:
        return _to_sign_in()
    return _page(
        request,
        signed_in,
        "requests.html",
        page="requests",
        statuses=[status.value for status in RequestStatus],
        priorities=[priority.value for priority in Priority],
        types=[kind.value for kind in RequestType],
    )


_SECTIONS = {
    "roster": "roster.html",
    "escalation": "escalation.html",
    "agreements": "agreements.html",
    "network": "network.html",
    "drills": "drills.html",
    "audit": "audit.html",
    "contacts": "contacts.html",
    "triage": "triage.html",
    "submissions": "submissions.html",
    "approvals": "approvals.html",
    "shared-data": "shared_data.html",
}
# The service worker is served from /web/ so that its scope covers every page (a worker's
# scope can be no wider than its script's folder); a file of our own, under the pages' CSP.
_SERVICE_WORKER = _HERE / "static" / "sw.js"
SERVICE_WORKER = f"{WEB_PREFIX}/sw.js"


@router.get(SERVICE_WORKER.removeprefix(WEB_PREFIX))
async def service_worker() -> Response:
    return Response(
        _SERVICE_WORKER.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/{section}", response_class=HTMLResponse)
async def section_page(request: Request, section: str, signed_in: SignedIn) -> Response:
    template = _SECTIONS.get(section)
    if template is None:
        return HTMLResponse("Not found", status_code=404)
    if signed_in is None:
        return _to_sign_in()
    return _page(
        request,
        signed_in,
        template,
        page=section,
        stix_types=STIX_TYPE_CHOICES,
        **_may_change(request, signed_in),
    )


def _may_change(request: Request, signed_in: SignedInPage) -> dict[str, bool]:
    """Whether the page shows its forms: what the policy lets this person change of the
    country the page is about (its ``?country=``, else their own). The API decides again on
    every call; this only spares a person controls that could not succeed."""
    wanted = request.query_params.get("country", "")
    country = wanted.upper() if len(wanted) == 2 and wanted.isalpha() else signed_in.actor.country
    owner = policy.Owner(country=country)
    return {
        "may_manage_roster": policy.permits(signed_in.actor, policy.Action.MANAGE_ROSTER, owner),
        "may_manage_policy": policy.permits(signed_in.actor, policy.Action.MANAGE_COUNTRY, owner),
    }


# For the pages other modules serve (app/web/analytics_page.py): the same sign-in, database
# handling and page frame as these.
to_sign_in = _to_sign_in
transaction = _transaction
render = _page
