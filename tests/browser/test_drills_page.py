"""The readiness drills page in a real browser (Chromium via Playwright) against a real server:
the global desk reads each desk's results and each drill's measured time, calls off a drill
not yet sent and schedules one from the form; the drilled desk's request page says DRILL
before anything else; an NCB sees its own country's drills only; and the page passes axe in
both themes."""

from __future__ import annotations

import re

import asyncpg
from playwright.async_api import Page, expect

from app.models.enums import Role
from tests.browser import screenshot
from tests.browser.a11y import watch
from tests.browser.test_accessibility import signed_in_as, visit_in_both_themes
from tests.browser.test_dashboard_sections import open_section
from tests.clients import http
from tests.conftest import RunningServer
from tests.drills import bring_due, request_of, scheduled
from tests.factories import World

WAIT_MS = 10_000


async def local_time(page: Page, *, hours: int) -> str:
    """That many hours from now, as a datetime-local field of the page takes it (its zone)."""
    value: str = await page.evaluate(
        """(hours) => {
            const at = new Date(Date.now() + hours * 3600000);
            const pad = (n) => String(n).padStart(2, "0");
            return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T` +
                `${pad(at.getHours())}:${pad(at.getMinutes())}`;
        }""",
        hours,
    )
    return value


async def test_the_global_desk_reads_results_calls_off_and_schedules_drills(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        (sent, waiting) = await scheduled(client, world.gs, "DE", "JP")
        await bring_due(db, sent)
        request_id = await request_of(db, sent)
        ack = await client.post(f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers)
        assert ack.status_code == 200, ack.text

    errors = await open_section(page, server, world.gs, "drills")
    result = page.locator("#drill-result-DE")
    await expect(result).to_contain_text("DE")
    await expect(result.locator("td").nth(1)).to_have_text("1")
    await expect(result.locator("td").nth(2)).to_have_text("1")
    await expect(result.locator("td.median")).to_have_text(re.compile(r"^\d+ s$"))
    await expect(page.locator(f"#drill-{sent}")).to_contain_text("Acknowledged")
    await expect(page.locator(f"#drill-{sent} a")).to_have_attribute(
        "href", f"/web/requests/{request_id}"
    )
    pending = page.locator(f"#drill-{waiting}")
    await expect(pending).to_contain_text("Scheduled")
    await pending.get_by_role("button", name="Call off").click()
    await expect(pending).to_contain_text("Called off")

    form = page.locator("#drill-form")
    await form.get_by_label("Desks").fill("fr, jp")
    await form.get_by_label("Not before").fill("2999-01-01T10:00")
    await form.get_by_label("Not after").fill("2999-01-01T12:00")
    await form.get_by_role("button", name="Schedule").click()
    # Refused (too far ahead): the form says why.
    await expect(form.locator(".problem")).to_contain_text("days ahead")
    await form.get_by_label("Not before").fill(await local_time(page, hours=1))
    await form.get_by_label("Not after").fill(await local_time(page, hours=3))
    await form.get_by_role("button", name="Schedule").click()
    rows = page.locator("#drill-rows tr")
    await expect(rows).to_have_count(4)
    await expect(page.locator("#drill-rows tr[data-status='scheduled']")).to_have_count(2)
    await expect(form.locator(".problem")).to_have_count(0)
    await screenshot(page, "drills-global-desk")
    assert errors() == []

    # The drilled desk's page of the request says DRILL first.
    await signed_in_as(page, server, world.desk("DE"))
    await page.goto(f"{server.http}/web/requests/{request_id}")
    await expect(page.locator("#request-title .flag.drill")).to_have_text("DRILL")
    await expect(page.locator("#request-title")).to_contain_text("Readiness drill of the DE desk")
    await page.goto(f"{server.http}/web/requests")
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    await expect(page.locator(f"#found-{request_id} .flag.drill")).to_have_text("DRILL")


async def test_an_ncb_drills_its_own_desk_from_the_form_and_sees_no_other_countrys(
    server: RunningServer, world: World, page: Page
) -> None:
    async with http(server.http) as client:
        await scheduled(client, world.gs, "JP")
        await scheduled(client, world.gs, "DE")  # not sent yet: DE's NCB does not see it
    errors = await open_section(page, server, world("DE", Role.NCB), "drills")
    await expect(page.locator("#drills-empty")).to_be_visible()
    form = page.locator("#drill-form")
    await expect(form.get_by_label("Desks")).to_have_value("DE")
    await form.get_by_label("Not before").fill(await local_time(page, hours=2))
    await form.get_by_label("Not after").fill(await local_time(page, hours=2))
    await form.get_by_role("button", name="Schedule").click()
    rows = page.locator("#drill-rows tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("DE")
    await expect(rows.first).to_contain_text("Scheduled")
    await screenshot(page, "drills-ncb")
    assert errors() == []


async def test_the_drills_page_passes_axe_in_both_themes(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        (sent, _) = await scheduled(client, world.gs, "DE", "JP")
    await bring_due(db, sent)
    await request_of(db, sent)
    watched = await watch(page)
    problems: list[str] = []
    for party in (world.gs, world("DE", Role.NCB)):
        await signed_in_as(page, server, party)
        problems += await visit_in_both_themes(page, server, "/web/drills", watched)
    assert problems == []


async def test_the_page_follows_a_drill_under_way_live(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        (drill_id,) = await scheduled(client, world.gs, "DE")
    errors = await open_section(page, server, world.gs, "drills")
    row = page.locator(f"#drill-{drill_id}")
    await expect(row).to_contain_text("Scheduled")

    await bring_due(db, drill_id)
    await expect(row).to_contain_text("Sent: waiting", timeout=WAIT_MS)
    request_id = await request_of(db, drill_id)
    async with http(server.http) as client:
        ack = await client.post(f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers)
        assert ack.status_code == 200, ack.text
    await expect(row).to_contain_text("Acknowledged", timeout=WAIT_MS)
    await expect(page.locator("#drill-result-DE td").nth(2)).to_have_text("1")
    assert errors() == []


async def test_the_desk_sees_a_drill_arrive_marked_and_acknowledges_it_from_its_queue(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        (drill_id,) = await scheduled(client, world.gs, "DE")
    errors = await open_section(page, server, desk, "")
    await bring_due(db, drill_id)
    request_id = await request_of(db, drill_id)
    row = page.locator(f"#request-{request_id}")
    await expect(row.locator(".flag.drill")).to_have_text("DRILL", timeout=WAIT_MS)
    await expect(row).to_contain_text("DRILL: readiness test")
    await screenshot(page, "drills-queue")
    await row.get_by_role("button", name="Acknowledge").click()
    await expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0, timeout=WAIT_MS)
    async with http(server.http) as client:
        shown = (await client.get(f"/v1/drills/{drill_id}", headers=world.gs.headers)).json()
    assert shown["status"] == "acknowledged"
    assert shown["acknowledged_by"] == str(desk.principal_id)
    assert shown["seconds_to_acknowledge"] is not None
    assert errors() == []
