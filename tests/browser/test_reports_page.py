"""The reports page in a real browser: the global desk lists the network's and a country's
reports and downloads a PDF that is the one the API serves; an NCB sees its own country's
only; the page passes axe in both themes."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from app.models.enums import Role
from tests.browser import screenshot
from tests.browser.a11y import watch
from tests.browser.test_accessibility import signed_in_as, visit_in_both_themes
from tests.browser.test_dashboard_sections import open_section
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World
from tests.reports import download, generate


async def test_the_global_desk_lists_and_downloads_reports_and_an_ncb_its_own(
    server: RunningServer, world: World, page: Page, tmp_path: Path
) -> None:
    async with http(server.http) as client:
        network = await generate(client, world.gs, "network")
        german = await generate(client, world("DE", Role.NCB), "DE")
        served = await download(client, world.gs, network, "pdf")
    errors = await open_section(page, server, world.gs, "reports")
    await expect(page.locator("tr[data-report]")).to_have_count(2)
    row = page.locator(f"tr[data-report='{network['id']}']")
    await expect(row.locator("th")).to_have_text("Network")
    await expect(row.locator("td[data-label=Period]")).to_have_text("2026-03-01 \u2013 2026-04-30")
    await expect(page.locator(f"tr[data-report='{german['id']}'] th")).to_have_text("DE")
    async with page.expect_download() as started:
        await row.get_by_role("link", name="PDF").click()
    saved = tmp_path / "report.pdf"
    await (await started.value).save_as(saved)
    assert saved.read_bytes() == served
    await screenshot(page, "reports")
    assert errors() == []

    await page.context.clear_cookies()
    await open_section(page, server, world("DE", Role.NCB), "reports")
    await expect(page.locator("tr[data-report]")).to_have_count(1)
    await expect(page.locator(f"tr[data-report='{german['id']}']")).to_have_count(1)
    await page.context.clear_cookies()
    await open_section(page, server, world("JP", Role.NCB), "reports")
    await expect(page.locator("tr[data-report]")).to_have_count(0)
    await expect(page.locator("p.empty")).to_be_visible()


async def test_the_reports_page_passes_axe_in_both_themes(
    server: RunningServer, world: World, page: Page
) -> None:
    async with http(server.http) as client:
        await generate(client, world.gs, "network")
    watched = await watch(page)
    problems: list[str] = []
    for party in (world.gs, world("DE", Role.NCB)):
        await signed_in_as(page, server, party)
        problems += await visit_in_both_themes(page, server, "/web/reports", watched)
    assert problems == []
