"""The shared-data pages in a real browser: the global desk accepts a quarantined object and
sees the queue shrink; a partner sees what became of its submission; a desk finds an accepted
indicator by its address. Every page passes axe in both themes and shows hostile partner
strings as text."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from app.core.database import Database
from app.models.enums import Role
from tests.browser import screenshot
from tests.browser.a11y import watch
from tests.browser.test_accessibility import signed_in_as, visit_in_both_themes
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World
from tests.shared_data import indicator, quarantine

WAIT_MS = 10_000
pytestmark = pytest.mark.slow
HOSTILE = "<img src=x onerror=alert(1)></pre><script>alert(2)</script>"


async def test_the_desk_accepts_a_quarantined_object_and_the_count_drops(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    watched = await watch(page)
    _, rows = await quarantine(
        database,
        world.partner("FR"),
        [indicator("203.0.113.10", name=HOSTILE), indicator("203.0.113.11")],
    )
    await signed_in_as(page, server, world.gs)
    await page.goto(f"{server.http}/web/triage")
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")
    await expect(page.locator("#quarantined-count")).to_have_text("2")

    first = page.locator(f"#object-{rows[0]}")
    await first.get_by_role("button", name="indicator--").click()
    await expect(page.locator("#object-json")).to_contain_text(HOSTILE)
    assert await page.locator("#object-json img, #object-json script").count() == 0
    await screenshot(page, "triage")

    await first.get_by_label("Note").fill("Seen by our own sensors")
    await first.get_by_role("button", name="Accept", exact=True).click()
    await expect(page.locator("#quarantined-count")).to_have_text("1", timeout=WAIT_MS)
    await expect(page.locator(f"#object-{rows[0]}")).to_have_count(0)

    # Another analyst's decision reaches this page by the socket.
    async with http(server.http) as client:
        answer = await client.post(
            f"/v1/shared-data/objects/{rows[1]}/decision",
            json={"decision": "reject"},
            headers=world.gs.headers,
        )
        assert answer.status_code == 200
    await expect(page.locator("#quarantined-count")).to_have_text("0", timeout=WAIT_MS)
    await expect(page.locator("#triage-empty")).to_be_visible()
    assert watched.errors == []


async def test_a_partner_sees_its_submissions_outcome(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    watched = await watch(page)
    partner = world.partner("DE")
    submission, rows = await quarantine(database, partner, [indicator(), indicator("192.0.2.8")])
    async with http(server.http) as client:
        await client.post(
            f"/v1/shared-data/objects/{rows[0]}/decision",
            json={"decision": "request_info", "note": "Which campaign? <b>now</b>"},
            headers=world.gs.headers,
        )
        await client.post(
            f"/v1/shared-data/objects/{rows[1]}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
    await signed_in_as(page, server, partner)
    await page.wait_for_url(f"{server.http}/web/submissions")
    await page.wait_for_selector("body[data-loaded='true']")
    row = page.locator(f"#submission-{submission}")
    await expect(row.locator(".accepted")).to_have_text("1")
    await row.get_by_role("button", name="Show objects").click()
    asked = page.locator(f"#object-{rows[0]}")
    await expect(asked.locator(".outcome")).to_have_text("More information asked")
    await expect(asked).to_contain_text("Which campaign? <b>now</b>")
    await expect(page.locator(f"#object-{rows[1]} .outcome")).to_have_text("Accepted")
    await screenshot(page, "submissions")
    # A partner's navigation holds its submissions only.
    await expect(page.get_by_role("navigation", name="Sections").get_by_role("link")).to_have_text(
        ["Submissions"]
    )
    assert watched.errors == []


async def test_a_desk_searches_and_finds_an_accepted_indicator(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    watched = await watch(page)
    _, [row_id, _] = await quarantine(
        database,
        world.partner("FR"),
        [indicator("198.51.100.23", name="Phishing kit host"), indicator("198.51.100.24")],
    )
    async with http(server.http) as client:
        accepted = await client.post(
            f"/v1/shared-data/objects/{row_id}/decision",
            json={"decision": "accept"},
            headers=world.gs.headers,
        )
    copy_id = accepted.json()["decided"][0]["gateway_row_id"]
    await signed_in_as(page, server, world.desk("JP"))
    await page.goto(f"{server.http}/web/shared-data")
    await page.wait_for_selector("body[data-loaded='true']")
    await page.get_by_label("Identifier").fill("198.51.100.23")
    await page.get_by_role("button", name="Search").click()
    found = page.locator(f"#object-{copy_id}")
    await expect(found).to_contain_text("Phishing kit host", timeout=WAIT_MS)
    await expect(page.locator("#shared-rows tr")).to_have_count(1)
    await found.get_by_role("button", name="Show").click()
    await expect(page.locator("#object-json")).to_contain_text("198.51.100.23")
    await screenshot(page, "shared-data")
    assert watched.errors == []


async def test_the_shared_data_pages_pass_axe_in_both_themes(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    await quarantine(database, world.partner("FR"), [indicator(name=HOSTILE)])
    watched = await watch(page)
    problems: list[str] = []
    for party, paths in (
        (world.gs, ["/web/triage", "/web/shared-data"]),
        (world.partner("FR"), ["/web/submissions"]),
        (world("DE", Role.NCB), ["/web/shared-data"]),
    ):
        await signed_in_as(page, server, party)
        for path in paths:
            problems += await visit_in_both_themes(page, server, path, watched)
    assert problems == []
