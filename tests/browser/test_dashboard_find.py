"""Triage and finding, in a real browser against a real server: the queue says what each
request is about (its headline), how long it has waited and what it is to the reader (new,
yours, escalated to you) without reading any content; /web/requests finds any request the
reader may see, closed ones too, with filters kept in the address across a reload, Back and
paging."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
from playwright.async_api import Page, expect

from app.core.database import Database
from app.models.enums import Role
from tests.audit_trail import entries
from tests.browser import follow_sign_in_link, screenshot, sign_in
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World
from tests.test_escalation import use_policy
from tests.waiting import eventually

WAIT_MS = 10_000


async def _act(client: httpx.AsyncClient, request_id: str, action: str, party: Party) -> None:
    response = await client.post(
        f"/v1/requests/{request_id}/actions/{action}", headers=party.headers
    )
    assert response.status_code == 200, response.text


async def _closed(client: httpx.AsyncClient, world: World, headline: str) -> dict[str, Any]:
    """A request France sent Germany, answered and closed."""
    created = await submit_request(client, world.unit("FR"), "DE", headline=headline)
    for action in ("acknowledge", "start", "respond"):
        await _act(client, created["id"], action, world.desk("DE"))
    await _act(client, created["id"], "close", world.unit("FR"))
    return created


async def test_the_queue_says_what_each_request_is_how_old_and_what_it_is_to_me(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection, database: Database
) -> None:
    officer = world.desk("DE")
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        waiting = await submit_request(
            client, world.unit("FR"), "DE", headline="Phishing kit hosting: who runs the server"
        )
        mine = await submit_request(
            client, world.unit("FR"), "DE", headline="Ransomware on a hospital: preserve logs"
        )
        taken = await client.post(
            f"/v1/requests/{mine['id']}/assign",
            json={"principal_id": str(officer.principal_id)},
            headers=world.gs.headers,
        )
        assert taken.status_code == 200, taken.text
        await _act(client, mine["id"], "acknowledge", officer)
        escalated = await submit_request(client, world.unit("FR"), "DE", priority="emergency")
        # Submitted twelve minutes ago: the age is the request's, not the page's.
        await db.execute(
            "UPDATE requests SET created_at = now() - interval '12 minutes 5 seconds' "
            "WHERE id = $1",
            waiting["id"],
        )
    reads_before = len(await entries(database, "request.read"))
    await sign_in(page, server, officer)

    waiting_row = page.locator(f"#request-{waiting['id']}")
    await expect(waiting_row.locator("td.headline")).to_have_text(
        "Phishing kit hosting: who runs the server"
    )
    await expect(waiting_row.locator(".badge-new")).to_have_text("new")
    await expect(waiting_row.locator("td.age")).to_have_text("waiting 12 min")
    await expect(waiting_row.locator("td.status")).not_to_contain_text("delivered")

    mine_row = page.locator(f"#request-{mine['id']}")
    await expect(mine_row.locator(".badge-yours")).to_have_text("yours")
    await expect(mine_row.locator(".badge-new")).to_have_count(0)
    await expect(mine_row.locator("td.age")).to_have_text(
        re.compile(r"^(under a minute|\d+ min) old$")
    )
    await expect(page.locator(f"#request-{escalated['id']} td.headline")).to_have_text(
        "no headline"
    )

    # Nobody acknowledged in time: the policy's next step reaches the desk, and the row says so.
    await bring_due(db, escalated["id"], "ack")
    escalated_row = page.locator(f"#request-{escalated['id']}")
    await expect(escalated_row.locator(".badge-escalated")).to_have_text(
        "escalated to you", timeout=WAIT_MS
    )
    await expect(escalated_row.locator(".badge-new")).to_have_text("new")

    # The age is kept current by the page's clock (an hour on, as the page would tick it).
    await page.evaluate(
        "import('/web/static/js/request-rows.js').then((rows) => rows.tickDeadlines("
        "document.getElementById('queue-rows'), Date.now() + 3600 * 1000))"
    )
    await expect(waiting_row.locator("td.age")).to_have_text("waiting 1 h 12 min")

    # Showing all this read no content: the queue lists metadata alone.
    assert len(await entries(database, "request.read")) == reads_before


async def test_all_requests_filters_pages_and_keeps_its_search_in_the_address(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    async with http(server.http) as client:
        closed = await _closed(
            client, world, "Wiper malware on a utility: preserve the update server"
        )
        others = [
            await _closed(client, world, headline)
            for headline in (
                "Business e-mail fraud: traffic data wanted",
                "DDoS on a bank: who runs the botnet",
            )
        ]
        for n in range(50):
            await submit_request(
                client, world.unit("FR"), "DE", headline=f"Phishing wave {n}", priority="routine"
            )
        await submit_request(client, world.unit("FR"), "JP", headline="Wiper malware in Japan")
    await sign_in(page, server, world.desk("DE"))
    await page.get_by_role("link", name="All requests").click()
    await page.wait_for_url(f"{server.http}/web/requests")
    await page.wait_for_selector("body[data-loaded='true']")
    reads_before = len(await entries(database, "request.read"))

    # Everything of mine, newest first, fifty a page.
    rows = page.locator("#found-rows tr")
    await expect(rows).to_have_count(50)
    await page.get_by_role("link", name="Next page").click()
    await expect(rows).to_have_count(3)
    assert "cursor" in parse_qs(urlsplit(page.url).query)
    await expect(page.locator(f"#found-{closed['id']}")).to_be_visible()
    await page.go_back()
    await expect(rows).to_have_count(50)
    await page.get_by_role("link", name="Next page").click()
    await expect(rows).to_have_count(3)
    await page.get_by_role("link", name="Back to first page").click()
    await expect(rows).to_have_count(50)

    # The closed ones; then by a word of its headline too (Japan's is not mine to find).
    await page.get_by_label("Status").select_option("closed")
    await page.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(3)
    for request in (closed, *others):
        await expect(page.locator(f"#found-{request['id']}")).to_contain_text("closed")
    await screenshot(page, "requests-search")
    await page.get_by_label("Search", exact=True).fill("wiper")
    await page.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    found = page.locator(f"#found-{closed['id']}")
    await expect(found).to_contain_text("Wiper malware on a utility")
    await expect(found).to_contain_text("closed")
    assert parse_qs(urlsplit(page.url).query) == {"q": ["wiper"], "status": ["closed"]}

    await page.reload()
    await expect(page.get_by_label("Search", exact=True)).to_have_value("wiper")
    await expect(page.get_by_label("Status")).to_have_value("closed")
    await expect(rows).to_have_count(1)

    # Back: the search before it (closed ones), then the first page, their forms too.
    await page.go_back()
    await expect(rows).to_have_count(3)
    await expect(page.get_by_label("Search", exact=True)).to_have_value("")
    await expect(page.get_by_label("Status")).to_have_value("closed")
    await page.go_back()
    await expect(rows).to_have_count(50)
    await expect(page.get_by_label("Status")).to_have_value("")

    # What the service refuses is said next to the form.
    await page.get_by_label("To country").fill("D")
    await page.get_by_role("button", name="Search").click()
    problem = page.locator("#search-problem")
    await expect(problem).to_be_visible()
    await expect(problem).to_contain_text("target_country")
    await page.get_by_label("To country").fill("")
    await page.get_by_label("Search", exact=True).fill("nothing matches this")
    await page.get_by_role("button", name="Search").click()
    await expect(problem).to_be_hidden()
    await expect(page.locator("#results-empty")).to_be_visible()

    # The row opens the request's page (that read is the audited one; the search was not).
    assert len(await entries(database, "request.read")) == reads_before
    await page.goto(f"{server.http}/web/requests?q=wiper")
    await page.locator(f"#found-{closed['id']} a").click()
    await page.wait_for_url(f"{server.http}/web/requests/{closed['id']}")


async def test_an_auditor_finds_requests_by_their_metadata(
    server: RunningServer, world: World, page: Page
) -> None:
    async with http(server.http) as client:
        closed = await _closed(client, world, "Sextortion campaign: subscriber data wanted")
    await follow_sign_in_link(page, server, world.auditor)
    await page.wait_for_url(f"{server.http}/web/audit")
    await page.get_by_role("link", name="All requests").click()
    await page.get_by_label("Search", exact=True).fill("sextortion")
    await page.get_by_role("button", name="Search").click()
    found = page.locator(f"#found-{closed['id']}")
    await expect(found).to_contain_text("Sextortion campaign: subscriber data wanted")
    await expect(found).to_contain_text("closed")


async def test_the_overview_reads_no_content_and_the_request_page_shows_the_headline(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection, database: Database
) -> None:
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        escalated = await submit_request(
            client, world.unit("FR"), "DE", headline="Botnet C2 in Frankfurt", priority="emergency"
        )
    await bring_due(db, escalated["id"], "ack")
    reads_before = len(await entries(database, "request.read"))
    await follow_sign_in_link(page, server, world.gs)
    await page.goto(f"{server.http}/web/network")
    row = page.locator(f"#request-{escalated['id']}")
    await row.wait_for(timeout=WAIT_MS)
    # The global desk's overview of what escalated lists metadata alone: no audited read.
    assert len(await entries(database, "request.read")) == reads_before

    await page.goto(f"{server.http}/web/requests/{escalated['id']}")
    await expect(page.locator("#request-headline")).to_have_text("Botnet C2 in Frankfurt")
    await expect(page.locator("#request-meta")).to_contain_text("not protected as content")


async def test_the_queue_names_the_desk_being_chased_as_the_escalation_moves_on(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    """Nobody on duty holds it in person: "Held by" says which desk the step reaches, live
    and after a reload (the list carries escalated_to too)."""
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        created = await submit_request(client, world.unit("FR"), "DE", priority="emergency")
    await sign_in(page, server, world("DE", Role.NCB))
    held_by = page.locator(f"#request-{created['id']} td[data-label='held by']")
    await expect(held_by).to_have_text("DE desk", timeout=WAIT_MS)

    async def escalate(to_step: int) -> None:
        await bring_due(db, created["id"], "ack", to_step - 1)

        async def moved() -> bool:
            step = await db.fetchval(
                "SELECT escalation_step FROM requests WHERE id = $1", created["id"]
            )
            return bool(step == to_step)

        await eventually(moved)

    await escalate(1)  # the backup: nobody on that layer, so the desk as a whole
    await expect(held_by).to_have_text("DE desk")
    await escalate(2)
    await expect(held_by).to_have_text("NCB DE", timeout=WAIT_MS)
    await page.reload()
    await expect(held_by).to_have_text("NCB DE", timeout=WAIT_MS)

    await escalate(3)
    await expect(held_by).to_have_text("the global desk", timeout=WAIT_MS)
    async with http(server.http) as client:
        listed = await client.get(
            "/v1/requests", params={"content": "false"}, headers=world.gs.headers
        )
    item = next(i for i in listed.json()["items"] if i["id"] == created["id"])
    assert (item["escalation_step"], item["escalated_to"]) == (3, "global_desk")
