"""The interactive API docs work on a network without internet: /docs and /redoc load nothing
from another host, and Swagger UI renders the operations in a browser that may reach only the
service."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Request, Route, expect

from tests.browser import screenshot
from tests.browser.test_dashboard_sections import WAIT_MS, collect_errors
from tests.conftest import RunningServer

_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_the_docs_pages_load_only_the_services_own_assets(
    server: RunningServer, path: str
) -> None:
    async with httpx.AsyncClient(base_url=server.http) as client:
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "'unsafe-eval'" not in policy
        scripts = next(part for part in policy.split("; ") if part.startswith("script-src"))
        assert scripts.startswith("script-src 'self'")
        assert "'unsafe-inline'" not in scripts
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets, "the page loads its script and style"
        for asset in assets:
            assert (
                urlsplit(urljoin(server.http + path, asset)).netloc == urlsplit(server.http).netloc
            ), asset
            answer = await client.get(asset)
            assert answer.status_code == 200, asset
            suffix = asset[asset.rfind(".") :]
            assert answer.headers["content-type"].startswith(_TYPES[suffix]), asset


async def _offline(page: Page, server: RunningServer) -> list[str]:
    """Let the browser reach the service and nothing else, as on a closed network; returns
    what it tried to reach elsewhere."""
    elsewhere: list[str] = []
    own = urlsplit(server.http).netloc

    async def route(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == own or request.url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            elsewhere.append(request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", route)
    return elsewhere


async def test_swagger_ui_renders_the_operations_without_internet(
    server: RunningServer, page: Page
) -> None:
    elsewhere = await _offline(page, server)
    errors = collect_errors(page)
    await page.goto(f"{server.http}/docs")
    submit = page.locator(".opblock-post .opblock-summary-path[data-path='/v1/requests']")
    await expect(submit).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator(".opblock-tag-section").first).to_be_visible()
    await expect(page.locator(".info .title")).to_contain_text("relay247")
    await screenshot(page, "api-docs")
    assert elsewhere == []
    assert errors == []  # a CSP refusal of the inline start-up script would be one


async def test_redoc_renders_the_operations_without_internet(
    server: RunningServer, page: Page
) -> None:
    elsewhere = await _offline(page, server)
    errors = collect_errors(page)
    await page.goto(f"{server.http}/redoc")
    await expect(page.locator("h1").first).to_contain_text("relay247", timeout=WAIT_MS)
    ack = page.get_by_text("/v1/requests/{request_id}/ack").first
    await expect(ack).to_be_attached(timeout=WAIT_MS)
    await screenshot(page, "api-redoc")
    assert elsewhere == []
    assert errors == []
