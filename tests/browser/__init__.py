"""The tests of the dashboard and the API's documentation pages in a real browser (their
fixtures are in conftest.py beside this file), and the steps they share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from playwright.async_api import Page

from tests.factories import Party

if TYPE_CHECKING:
    from tests.conftest import RunningServer

SCREENSHOTS = Path(__file__).parents[2] / "test-output" / "screenshots"


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
