"""An alert's one-time acknowledge link (app/alerts/ack_links.py): the page an e-mail's link
opens (GET shows what it would acknowledge and changes nothing; its form POSTs), and the JSON
call the Web Push service worker's Acknowledge action makes. The link is the credential: no
token, and a dashboard session on the browser only matters when it is another person's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from app.alerts import ack_links
from app.api import problems
from app.api.deps import DatabaseOf, SettingsOf
from app.core.errors import DomainError
from app.core.service_secret import ServiceSecret
from app.requests.schemas import AckOut
from app.web.pages import SignedIn, same_origin, templates
from app.web.security import security_headers

router = APIRouter(prefix="/v1/ack-links", tags=["alerts"])
pages = APIRouter(prefix="/ack", include_in_schema=False)

LinkToken = Annotated[
    str,
    Path(
        max_length=200,
        description="The token of the link the alert carried (the last part of its URL)",
    ),
]


def _secret(request: Request) -> ServiceSecret:
    secret: ServiceSecret = request.app.state.service_secret
    return secret


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/{token}",
    response_model=AckOut,
    responses=problems.responses(403, 404, 409, 410),
)
async def use_ack_link(
    token: LinkToken,
    request: Request,
    database: DatabaseOf,
    settings: SettingsOf,
    signed_in: SignedIn,
) -> AckOut:
    """Acknowledge the request an alert was about, as the person it was sent to, by the
    one-time link it carried (the Web Push notification's Acknowledge action). No token: the
    link is the credential. 403 when this browser is signed in as another person, 409 when
    the link was used already, 410 when it has expired; an already acknowledged request is
    no error (`already_acknowledged: true`)."""
    return await ack_links.use(
        database,
        _secret(request),
        token,
        lifetime=settings.outbox.ack_link_lifetime,
        reopen_window=settings.exchange.reopen_window,
        signed_in=signed_in.actor if signed_in else None,
        remote_addr=_remote(request),
    )


_STATUS = {
    ack_links.Refusal.INVALID: 404,
    ack_links.Refusal.OTHER_PERSON: 403,
    ack_links.Refusal.USED: 409,
    ack_links.Refusal.EXPIRED: 410,
}


def _page(request: Request, status_code: int = 200, **context: object) -> Response:
    return templates.TemplateResponse(
        request,
        "ack.html",
        {"action": request.url.path, "problem": None, "link": None, "acked": None, **context},
        status_code=status_code,
        headers={
            **security_headers(),
            "Cache-Control": "no-store",
            # The link is a credential: never sent on to another site.
            "Referrer-Policy": "no-referrer",
        },
    )


@pages.get("/{token}", response_class=HTMLResponse)
async def ack_page(
    token: str, request: Request, database: DatabaseOf, settings: SettingsOf, signed_in: SignedIn
) -> Response:
    """What the link would acknowledge, with a button: a GET changes nothing (mail scanners
    and link previews open links)."""
    try:
        link = await ack_links.preview(
            database,
            _secret(request),
            token,
            lifetime=settings.outbox.ack_link_lifetime,
            signed_in=signed_in.actor if signed_in else None,
        )
    except DomainError as refused:
        return _page(request, refused.status, problem=refused.detail)
    if link.refusal is not None:
        return _page(
            request,
            _STATUS[link.refusal],
            link=link,
            problem=ack_links.refused(link.refusal).detail,
        )
    return _page(request, link=link)


@pages.post("/{token}", response_class=HTMLResponse)
async def ack_by_page(
    token: str, request: Request, database: DatabaseOf, settings: SettingsOf, signed_in: SignedIn
) -> Response:
    if not same_origin(request):
        return _page(request, 403, problem="Acknowledge from this site's own page.")
    try:
        acked = await ack_links.use(
            database,
            _secret(request),
            token,
            lifetime=settings.outbox.ack_link_lifetime,
            reopen_window=settings.exchange.reopen_window,
            signed_in=signed_in.actor if signed_in else None,
            remote_addr=_remote(request),
        )
    except DomainError as refused:
        return _page(request, refused.status, problem=refused.detail)
    return _page(request, acked=acked)
