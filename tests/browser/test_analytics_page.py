"""The response analytics page in a real browser: the global desk's network by target
country, an NCB's own country both ways, with charts drawn on the server; and a country never
shown another pair's figures (the scene of tests/test_analytics.py)."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Page, expect

from app.models.enums import Role
from tests.browser import screenshot
from tests.browser.test_dashboard_sections import open_section
from tests.conftest import RunningServer
from tests.factories import World
from tests.test_analytics import rebuild, set_the_scene

SPRING = "?from=2026-03-01&to=2026-04-30"


async def test_the_global_desk_reads_the_network_at_a_glance(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    errors = await open_section(page, server, world.gs, "analytics", search=SPRING)
    section = page.locator("#analytics-targets")
    germany = section.locator("tr[data-country='DE']")
    await expect(germany.locator(".count")).to_have_text("4")
    await expect(germany.locator(".breach")).to_have_text("50% (1 of 2)")
    await expect(section.locator("tr[data-country='FR'] .count")).to_have_text("1")
    # A bar per target in each chart, its value beside it: Germany's median ack is 20 min.
    chart = section.locator("figure").first
    await expect(chart.locator("figcaption")).to_have_text("Median time to acknowledge")
    await expect(chart.locator("g.bar-row[data-label='DE'] .bar-value")).to_have_text("20 min")
    breaches = section.locator("figure").nth(1)
    await expect(breaches.locator("g.bar-row[data-label='FR'] rect.bar-bad")).to_have_count(1)
    await expect(page.locator("#analytics-weekly g.bar-row")).not_to_have_count(0)
    csv = await section.locator("a[download]").get_attribute("href")
    assert csv is not None
    assert "format=csv" in csv
    await screenshot(page, "analytics")
    assert errors() == []


async def test_an_ncb_sees_its_country_both_ways_and_nothing_else(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    errors = await open_section(page, server, world("FR", Role.NCB), "analytics", search=SPRING)
    received = page.locator("#analytics-received")
    sent = page.locator("#analytics-sent")
    await expect(received.locator("h2")).to_have_text("Received by FR, by sending country")
    await expect(received.locator("tbody tr")).to_have_count(1)
    await expect(received.locator("tr[data-country='JP'] .count")).to_have_text("1")
    await expect(sent.locator("tbody tr")).to_have_count(1)
    await expect(sent.locator("tr[data-country='DE'] .count")).to_have_text("4")
    assert errors() == []

    # Japan's NCB: only what Japan sent; Germany's figures are not Japan's to see.
    await page.context.clear_cookies()
    await open_section(page, server, world("JP", Role.NCB), "analytics", search=SPRING)
    await expect(page.locator("#analytics-sent tr[data-country='FR'] .count")).to_have_text("1")
    await expect(page.locator("#analytics-received tbody tr")).to_have_count(0)
    await expect(page.locator("[data-country='DE']")).to_have_count(0)
    await expect(page.locator("[data-label='DE']")).to_have_count(0)
