"""The dashboard's role pages in a real browser (Chromium via Playwright), against a real
server and Postgres: an NCB's roster and agreements, the global desk's live overview of
what ran late in the network, and an auditor's search and export of the audit trail."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from playwright.async_api import ConsoleMessage, Error, Page, expect

from app.core.database import Database
from app.models.enums import RequestType, Role
from tests.browser import follow_sign_in_link, screenshot
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World, make_agreement, make_national_auditor, make_rotation
from tests.processes import environment, run_in
from tests.test_escalation import use_policy

# Generous: a browser on a loaded CI machine (as tests/test_dashboard.py).
WAIT_MS = 10_000


def collect_errors(page: Page) -> list[str]:
    """What the page got wrong: uncaught errors and console errors (a CSP refusal is one).
    An answer the API refused is the page's to show, not an error of the page's."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            errors.append(message.text)

    def on_error(error: Error) -> None:
        errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    return errors


async def open_section(
    page: Page, server: RunningServer, party: Party, section: str, *, search: str = ""
) -> Callable[[], list[str]]:
    """Sign in by link as ``party`` (which lands on its first page), then open one role page
    and wait until it has read its data. Returns what went wrong on the page so far."""
    errors = collect_errors(page)
    await follow_sign_in_link(page, server, party)
    await page.wait_for_url(lambda url: "/web/" in url and "/sign-in" not in url)
    await page.goto(f"{server.http}/web/{section}{search}")
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    return lambda: errors


async def test_the_ncb_sees_who_is_on_duty_and_the_gaps_in_red(
    server: RunningServer, world: World, page: Page, database: Database, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE countries SET time_zone = 'Europe/Berlin' WHERE code = 'DE'")
    officer = world.desk("DE")
    # On duty from long ago until tomorrow at this hour; nobody after that, and nobody ever
    # as backup: both are gaps of the week.
    until = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    await make_rotation(database, "DE", [officer.principal_id], ends_at=until)

    errors = await open_section(page, server, world("DE", Role.NCB), "roster")

    await expect(page.locator("#roster-zone")).to_have_text("Time zone: Europe/Berlin")
    await expect(page.locator("#on-duty-primary")).to_contain_text("DE contact_point")
    await expect(page.locator("#on-duty-backup")).to_have_text("No one on duty")
    await expect(page.locator("#on-duty-backup")).to_have_class("gap")
    days = page.locator("#week > li")
    await expect(days).to_have_count(7)
    await expect(days.first.locator("h3")).to_contain_text("(today)")
    await expect(days.first.locator(".shift.layer-primary")).to_contain_text("DE contact_point")

    # The primary's gap begins where the rotation ends, said in words and shown in red.
    gap = page.locator(".gap.layer-primary").first
    await expect(gap).to_contain_text("No one on duty")
    starts = datetime.fromisoformat(str(await gap.get_attribute("data-start")))
    assert starts == until
    red = await gap.evaluate("node => getComputedStyle(node).backgroundColor")
    assert red == "rgb(255, 227, 227)"  # --red-bg
    # The gap's own day ends with it: nobody is on duty to the end of the week.
    last_day = days.nth(6)
    await expect(last_day.locator(".gap.layer-primary")).to_contain_text("No one on duty")
    await expect(last_day.locator(".shift")).to_have_count(0)

    # On a phone the days stack, one under the other.
    await page.set_viewport_size({"width": 390, "height": 844})
    first, second = await days.nth(0).bounding_box(), await days.nth(1).bounding_box()
    assert first is not None
    assert second is not None
    assert second["y"] > first["y"] + first["height"] - 1
    assert abs(second["x"] - first["x"]) < 1
    assert errors() == []


async def test_the_ncb_sees_its_countrys_agreements(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    scoped = await make_agreement(
        database,
        world.unit("DE"),
        request_types=[RequestType.PRESERVATION.value],
        target_countries=["FR", "JP"],
        valid_until=datetime.now(UTC) + timedelta(days=30),
        conditions="Only with a prosecutor's order on file.",
    )
    elsewhere = await make_agreement(database, world.unit("FR"), target_countries=["DE"])

    errors = await open_section(page, server, world("DE", Role.NCB), "agreements")

    row = page.locator(f"#agreement-{scoped}")
    await expect(row).to_contain_text("DE unit")
    await expect(row).to_contain_text("preservation")
    await expect(row).to_contain_text("FR, JP")
    await expect(row).to_contain_text("All priorities")
    await expect(row).to_contain_text("In force")
    await expect(row).to_contain_text("prosecutor's order")
    # make_world's own agreement for the unit, of every scope, is listed too; FR's is not.
    await expect(page.locator("#agreement-rows tr")).to_have_count(2)
    await expect(page.locator(f"#agreement-{elsewhere}")).to_have_count(0)
    await screenshot(page, "agreements")
    assert errors() == []


async def test_the_global_desk_sees_an_escalated_request_appear_live(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)  # DE's desk
        errors = await open_section(page, server, world.gs, "network")
        await page.wait_for_selector("body[data-connection='live']", timeout=WAIT_MS)
        await expect(page.locator("#network-empty")).to_be_visible()
        late = await submit_request(client, world.unit("FR"), "DE")
        calm = await submit_request(client, world.unit("DE"), "JP")  # JP's policy: minutes
    await bring_due(db, late["id"], "ack")  # DE's desk let its time run out

    row = page.locator(f"#request-{late['id']}")
    await expect(row.locator(".flag.escalated")).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_contain_text("escalated (step")
    # Whom to call: the German desk, or by name whoever of it the escalation reached.
    await expect(row.locator("[data-label='held by']")).to_have_text(re.compile(r"^DE "))
    await expect(page.locator("#network-empty")).to_be_hidden()
    await expect(page.locator(".counts")).to_have_text("1 open request needs attention")
    await expect(page.locator(f"#request-{calm['id']}")).to_have_count(0)
    assert calm["id"] not in await page.content()
    await screenshot(page, "network")

    # A new look at the page lists it from the API, once.
    await page.reload()
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    await expect(page.locator("#network-rows tr")).to_have_count(1)
    await expect(page.locator(f"#request-{late['id']}")).to_be_visible()
    assert errors() == []


async def test_the_auditor_finds_a_submission_and_exports_it(
    server: RunningServer, world: World, page: Page
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE")
        await submit_request(client, world.unit("FR"), "JP")  # another request's entries

    errors = await open_section(page, server, world.auditor, "audit")
    await page.get_by_label("Request id").fill(created["id"])
    await page.get_by_role("button", name="Search").click()

    submitted = page.locator("#entry-rows tr[data-action='request.submitted']")
    await expect(submitted).to_have_count(1, timeout=WAIT_MS)
    await expect(submitted).to_contain_text(created["id"])
    await expect(submitted).to_contain_text("DE, FR")
    objects = await page.locator("#entry-rows tr").evaluate_all(
        "rows => rows.map(row => row.dataset.objectId)"
    )
    assert set(objects) == {created["id"]}
    assert f"request_id={created['id']}" in page.url  # the search can be reloaded or sent
    await screenshot(page, "audit")

    href = await page.locator("#export-ndjson").get_attribute("href")
    assert href is not None
    assert f"request_id={created['id']}" in href
    assert "format=ndjson" in href
    exported = await page.request.get(f"{server.http}{href}")
    assert exported.status == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    header = json.loads((await exported.text()).splitlines()[0])
    assert header["type"] == "relay247.audit.export"
    assert header["filters"]["request_id"] == created["id"]
    csv_href = await page.locator("#export-csv").get_attribute("href")
    assert csv_href is not None
    assert f"request_id={created['id']}" in csv_href
    assert errors() == []


async def test_the_audit_pages_verify_hint_works_with_the_keys_it_offers(
    server: RunningServer, world: World, page: Page, tmp_path: Path
) -> None:
    """The page's command, run as written on the two files the page offers, verifies."""
    async with http(server.http) as client:
        await submit_request(client, world.unit("FR"), "DE")
    await open_section(page, server, world.auditor, "audit")
    command = (await page.locator("#verify-command").inner_text()).split()
    assert command[:4] == ["relay247", "audit", "verify", "FILE"]
    keys_link = page.locator("#public-keys")
    keys_name = await keys_link.get_attribute("download")
    assert command[4:] == ["--public-key", keys_name]

    # The export first: the service publishes its key when it first signs (here, for it).
    async with page.expect_download() as downloading:
        await page.locator("#export-ndjson").click()
    await (await downloading.value).save_as(tmp_path / "export.ndjson")
    async with page.expect_download() as downloading:
        await keys_link.click()
    await (await downloading.value).save_as(tmp_path / str(keys_name))

    code, stdout, stderr = await run_in(
        tmp_path, *command[1:3], "export.ndjson", *command[4:], env=environment()
    )
    assert code == 0, stdout + stderr
    assert stdout.startswith("export verified:")


async def test_a_national_auditor_is_told_why_not_for_another_country(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    auditor = await make_national_auditor(database, world, "DE")
    errors = await open_section(page, server, auditor, "audit")
    await expect(page.locator("#problem")).to_be_hidden()  # its own country's: fine

    await page.get_by_label("Country").fill("FR")
    await page.get_by_role("button", name="Search").click()
    problem = page.locator("#audit-search [role='alert']")  # beside the search
    await expect(problem).to_contain_text("national_auditor may", timeout=WAIT_MS)
    await expect(problem).to_contain_text("only")
    await expect(page.locator("#entry-rows tr")).to_have_count(0)
    assert errors() == []


async def test_the_auditor_reads_on_page_after_page(
    server: RunningServer, world: World, page: Page
) -> None:
    async with http(server.http) as client:
        for _ in range(55):  # more than the page's 50 entries a page
            await submit_request(client, world.unit("FR"), "DE")

    errors = await open_section(
        page, server, world.auditor, "audit", search="?action=request.submitted"
    )
    await expect(page.get_by_label("Action")).to_have_value("request.submitted")
    rows = page.locator("#entry-rows tr")
    await expect(rows).to_have_count(50, timeout=WAIT_MS)
    await expect(page.locator("#entries-summary")).to_contain_text("more to come")
    more = page.get_by_role("button", name="Show more")
    await more.focus()
    await page.keyboard.press("Enter")  # reachable and usable by keyboard
    await expect(rows).to_have_count(55, timeout=WAIT_MS)
    await expect(more).to_be_hidden()
    await expect(page.locator("#entries-summary")).to_have_text("55 entries shown.")
    ids = await rows.evaluate_all("rows => rows.map(row => row.id)")
    assert len(set(ids)) == 55  # none twice across the pages
    href = await page.locator("#export-csv").get_attribute("href")
    assert href is not None
    assert "action=request.submitted" in href
    assert errors() == []
