"""The fixtures of the tests in a real browser: Playwright driving the machine's Chromium (no
browser is downloaded). Without Chromium these tests are skipped with how to get it, unless
RELAY247_REQUIRE_BROWSER is set (.ci/run sets it), which makes them fail instead: CI never
passes without having run them. Only the tests in this folder load Playwright."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.chromium import HOW_TO_GET_CHROMIUM, LAUNCH_ARGS, chromium_executable


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
