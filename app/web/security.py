"""Headers that keep the dashboard's pages from being framed, sniffed or made to run script
that is not ours."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_PREFIX = "/web"

# No inline script or style anywhere: everything the page runs is a file under /web/static.
# 'self' in connect-src covers the page's own ws:// and wss:// origin (CSP Level 3).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def security_headers(content_security_policy: str = CONTENT_SECURITY_POLICY) -> dict[str, str]:
    """The dashboard's headers, with another policy for a page that needs one (the API docs,
    app/api/docs.py)."""
    return {"Content-Security-Policy": content_security_policy, **_HEADERS}


class WebSecurityHeaders:
    """Adds the headers to every answer under /web/ (the API's JSON needs none of them; the
    interactive docs set their own, app/api/docs.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == WEB_PREFIX or path.startswith(WEB_PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in security_headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
