"""Signing in by link in a real browser: a link anyone can send never signs in by itself (no
login CSRF); the page names whose session it would open, and whose it would replace, and only
the person's click signs in. The token stays out of every URL, storage and log."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser import screenshot, sign_in
from tests.conftest import RunningServer
from tests.factories import Party, World

WAIT_MS = 10_000


async def name_of(db: asyncpg.Connection, party: Party) -> str:
    name: str = await db.fetchval("SELECT name FROM principals WHERE id = $1", party.principal_id)
    return name


async def session_cookies(context: BrowserContext) -> list[str]:
    return [c["value"] for c in await context.cookies() if c["name"] == "relay247_session"]


async def test_a_sign_in_link_asks_whose_session_before_it_signs_in(
    server: RunningServer,
    world: World,
    page: Page,
    context: BrowserContext,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    officer = world.desk("DE")
    name = await name_of(db, officer)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    await page.goto(f"{server.http}/web/sign-in#token={officer.token}")
    confirm = page.get_by_role("button", name=f"Sign in as {name}")
    await expect(confirm).to_be_visible(timeout=WAIT_MS)
    germany = await db.fetchval("SELECT name FROM countries WHERE code = 'DE'")
    await expect(page.locator("#link-identity")).to_contain_text(
        f"{name}, contact point at", timeout=WAIT_MS
    )
    await expect(page.locator("#link-identity")).to_contain_text(f"({germany})")
    await screenshot(page, "sign-in-link")
    # Asked, not signed in: no cookie, no session on the server.
    assert await session_cookies(context) == []
    assert (
        await db.fetchval("SELECT count(*) FROM api_tokens WHERE signed_in_with IS NOT NULL") == 0
    )
    assert officer.token not in page.url

    await confirm.click()
    await page.wait_for_url(f"{server.http}/web/")
    assert len(await session_cookies(context)) == 1
    await expect(page.locator(".who")).to_contain_text(name)

    reachable = await page.evaluate(
        "() => JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])"
    )
    assert "r247_" not in reachable
    assert not [url for url in urls if officer.token in url]
    assert officer.token not in caplog.text


async def test_a_link_for_someone_else_shows_the_session_it_would_replace_and_can_be_declined(
    server: RunningServer, world: World, page: Page, context: BrowserContext, db: asyncpg.Connection
) -> None:
    officer, stranger = world.desk("DE"), world.unit("FR")
    await sign_in(page, server, officer)
    [cookie] = await session_cookies(context)

    await page.goto(f"{server.http}/web/sign-in#token={stranger.token}")
    await expect(page.locator("#current-session")).to_contain_text(await name_of(db, officer))
    await expect(page.locator("#link-identity")).to_contain_text(
        await name_of(db, stranger), timeout=WAIT_MS
    )
    await page.get_by_role("button", name="Not me").click()

    await expect(page.locator("#link-sign-in")).to_be_hidden()
    await expect(page.get_by_label("Token")).to_have_value("")
    assert await session_cookies(context) == [cookie]  # still the officer's, still working
    await page.get_by_role("link", name="Back to the dashboard").click()
    await page.wait_for_url(f"{server.http}/web/")
    await expect(page.locator(".who")).to_contain_text(await name_of(db, officer))


async def test_a_link_whose_token_does_not_work_says_so_and_signs_in_nobody(
    server: RunningServer, page: Page, context: BrowserContext
) -> None:
    await page.goto(f"{server.http}/web/sign-in#token=r247_000000000000_{'x' * 43}")
    await expect(page.get_by_role("alert")).to_contain_text("does not work", timeout=WAIT_MS)
    await expect(page.get_by_label("Token")).to_be_visible()
    assert await session_cookies(context) == []
