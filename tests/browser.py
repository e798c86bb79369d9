"""The dashboard's tests in a real browser: Playwright driving the machine's Chromium (no
browser is downloaded). Without Chromium the browser tests are skipped with how to get it,
unless RELAY247_REQUIRE_BROWSER is set (.ci/run sets it), which makes them fail instead: CI
never passes without having run them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.chromium import HOW_TO_GET_CHROMIUM, LAUNCH_ARGS, chromium_executable
from tests.factories import Party

if TYPE_CHECKING:
    from tests.conftest import RunningServer

SCREENSHOTS = Path(__file__).parent.parent / "test-output" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_executable()
    if executable is None:
        if os.environ.get("RELAY247_REQUIRE_BROWSER"):
            pytest.fail(HOW_TO_GET_CHROMIUM + " (RELAY247_REQUIRE_BROWSER is set)")
        pytest.skip(HOW_TO_GET_CHROMIUM)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context(viewport={"width": 1280, "height": 800})
    yield opened
    await opened.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def follow_sign_in_link(page: Page, server: RunningServer, party: Party) -> None:
    """Open the sign-in link and click the page's question of whose session it opens."""
    await page.goto(f"{server.http}/web/sign-in#token={party.token}")
    await page.get_by_role("button", name="Sign in as").click()


async def sign_in(page: Page, server: RunningServer, party: Party) -> None:
    """Open the sign-in link a person gets (the token in the fragment), confirm who it signs
    in as, and wait until the page has loaded its data and its socket is live."""
    await follow_sign_in_link(page, server, party)
    await page.wait_for_url(f"{server.http}/web/")
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
