"""The interactive API docs, /docs (Swagger UI) and /redoc (ReDoc), with their scripts and
styles served by the service itself: relay247 runs on closed police networks, where a CDN is
out of reach and FastAPI's default pages stay blank.

The assets come from the `fastapi-standalone-docs` package (swagger-ui-dist and ReDoc's
standalone bundle, with their licences, ReDoc's one CDN image pointed at a local copy); its
way of installing them (patching FastAPI's module functions for every app in the process) is
not used, only its files."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.web.security import security_headers

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
_ASSETS = Path(str(files("fastapi_standalone_docs") / "static"))
_FAVICON = f"{DOCS_URL}/fastapi/favicon.png"
# Where the pages' assets are mounted (below the pages themselves): static files.
STATIC_PREFIXES = (f"{DOCS_URL}/", f"{REDOC_URL}/")


def _inline_hashes(html: str, tag: str) -> list[str]:
    """CSP sources allowing exactly the inline <tag> blocks of ``html``, by their SHA-256:
    FastAPI's pages start Swagger UI with an inline script and reset ReDoc's margins with an
    inline style, and nothing else inline may run."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in blocks
    ]


def _policy(*, scripts: list[str], styles: list[str], workers: str = "'none'") -> str:
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src 'self'", *scripts]),
            " ".join(["style-src 'self'", *styles]),
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            f"worker-src {workers}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def _html(response: HTMLResponse) -> str:
    return bytes(response.body).decode()


def _page(html: str, policy: str) -> HTMLResponse:
    return HTMLResponse(html, headers=security_headers(policy))


def install(app: FastAPI) -> None:
    """Add /docs and /redoc and their assets; create the app with docs_url and redoc_url None
    so that FastAPI adds no page of its own."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"
    swagger = _html(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{DOCS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_URL}/swagger-ui.css",
            swagger_favicon_url=_FAVICON,
            # No badge asking swagger.io to validate the document: nothing leaves the network.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )
    swagger_policy = _policy(scripts=_inline_hashes(swagger, "script"), styles=[])
    redoc = _html(
        get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{REDOC_URL}/redoc.standalone.js",
            redoc_favicon_url=_FAVICON,
            with_google_fonts=False,
        )
    )
    # ReDoc writes its styles into <style> elements as it renders (styled-components), and
    # runs its search index in a worker it makes from a blob: neither can be named by hash.
    redoc_policy = _policy(scripts=[], styles=["'unsafe-inline'"], workers="blob:")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(swagger, swagger_policy)

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc_ui() -> HTMLResponse:
        return _page(redoc, redoc_policy)

    app.mount(f"{DOCS_URL}/fastapi", StaticFiles(directory=_ASSETS / "fastapi"), name="docs-icon")
    app.mount(DOCS_URL, StaticFiles(directory=_ASSETS / "swagger"), name="swagger-ui")
    # ReDoc asks for its logo at its page's own path + /logo-mini.svg.
    app.mount(REDOC_URL, StaticFiles(directory=_ASSETS / "redoc"), name="redoc")
