"""A request's "Shared data" panel in a real browser: the reports carrying its identifiers
with links, their values shown as text (never as markup), in both themes; and what a push of
request.matched does (offers the new matches; reads nothing by itself)."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Page, expect

from app.core.database import Database
from app.models.enums import Role
from tests.browser import screenshot, sign_in
from tests.browser.a11y import THEMES, accessibility_violations, use_system_theme
from tests.browser.test_dashboard import WAIT_MS
from tests.browser.test_request_page import open_request
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World
from tests.shared_store import sco, share

IP = "203.0.113.7"
HOSTILE_URL = "http://evil.example.org/<img/src=x/onerror=alert(1)>"


async def shown_reads(db: asyncpg.Connection, request_id: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE object_id = $1 AND action = 'match.shown'",
        request_id,
    )
    return count


async def test_the_panel_lists_matches_with_links_as_text_in_both_themes(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection, page: Page
) -> None:
    [row_id] = await share(database, world.unit("DE"), [sco("url", HOSTILE_URL)])
    async with http(server.http) as client:
        request_id = (
            await submit_request(
                client,
                world.unit("FR"),
                "JP",
                identifiers=[{"kind": "url", "value": HOSTILE_URL}, {"kind": "ip", "value": IP}],
            )
        )["id"]
    await sign_in(page, server, world.unit("FR"))
    await open_request(page, server, request_id)

    panel = page.locator("#shared-section")
    await expect(panel).to_be_visible()
    await expect(page.locator("#shared-summary li")).to_have_text(
        [f"{HOSTILE_URL} (url) appears in 1 shared report"]
    )
    row = page.locator(f"#shared-rows tr[data-object-row='{row_id}']")
    await expect(row.locator("code")).to_have_text(HOSTILE_URL)
    assert await page.locator("#shared-rows img").count() == 0
    link = row.locator("a")
    assert (await link.get_attribute("href") or "").startswith("/taxii2/api/collections/")
    await expect(row).to_contain_text("DE unit")
    assert await shown_reads(db, request_id) == 1
    for theme in THEMES:
        await use_system_theme(page, theme)
        assert await accessibility_violations(page) == [], theme

    # New shared data: offered, and read only on a click.
    await share(database, world.unit("DE"), [sco("ipv4-addr", IP)])
    offer = page.locator("#shared-summary-offer")
    await expect(offer).to_be_visible(timeout=WAIT_MS)
    assert await shown_reads(db, request_id) == 1
    await offer.click()
    await expect(page.locator("#shared-rows tr")).to_have_count(2)
    await screenshot(page, "request-matches")
    assert await shown_reads(db, request_id) == 2


async def test_who_may_not_read_the_content_sees_no_panel(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection, page: Page
) -> None:
    await share(database, world.unit("DE"), [sco("ipv4-addr", IP)])
    async with http(server.http) as client:
        request_id = (
            await submit_request(
                client,
                world.unit("FR"),
                "DE",
                identifiers=[{"kind": "ip", "value": IP}],
                handling_code="RED",
            )
        )["id"]
    # RED: the DE desk reads the content only while it holds the request; its colleague
    # at the NCB never does.
    await sign_in(page, server, world("DE", Role.NCB))
    await open_request(page, server, request_id)
    await expect(page.locator("#shared-section")).to_be_hidden()
    assert await shown_reads(db, request_id) == 0
