"""The duty officer's dashboard in a real browser (Chromium, driven by Playwright), against a
real server and Postgres: sign in, see a request arrive, acknowledge it by click, watch its
deadline pass, ride out a server restart, never see another country's request, sign out."""

from __future__ import annotations

from typing import Any

import asyncpg
from httpx import AsyncClient
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from app.core.database import Database
from app.main import create_app
from tests.browser import screenshot, sign_in
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer, free_port, running_server, serving_app
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World, make_contact_point, make_rotation, request_body
from tests.test_escalation import use_policy
from tests.test_red_holder import red_request

# Generous: a browser on a loaded CI machine. How fast it really is, is bench/'s to measure.
WAIT_MS = 10_000


async def held_by_colleague(client: AsyncClient, world: World, colleague: Party) -> dict[str, Any]:
    """A request France's unit sent to Germany, handed to ``colleague`` by the global desk."""
    created = await submit_request(client, world.unit("FR"), "DE")
    taken = await client.post(
        f"/v1/requests/{created['id']}/assign",
        json={"principal_id": str(colleague.principal_id)},
        headers=world.gs.headers,
    )
    assert taken.status_code == 200, taken.text
    return created


async def queue_ids(page: Page) -> list[str]:
    ids: list[str] = await page.locator("#queue-rows tr").evaluate_all(
        "rows => rows.map(row => row.dataset.requestId)"
    )
    return ids


async def test_signing_in_keeps_the_token_out_of_the_page(
    server: RunningServer, world: World, page: Page, context: BrowserContext
) -> None:
    officer = world.desk("DE")
    await sign_in(page, server, officer)

    assert officer.token not in page.url
    cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
    session = cookies["relay247_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["value"] != officer.token  # a session of its own, not the pasted token
    reachable = await page.evaluate(
        "() => JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])"
    )
    assert "r247_" not in reachable
    await expect(page.locator(".who")).to_contain_text("contact point, DE")


async def test_a_request_appears_and_is_acknowledged_with_one_click(
    server: RunningServer, world: World, page: Page
) -> None:
    await sign_in(page, server, world.desk("DE"))
    requester = await Dashboard.open(server.ws, world.unit("FR"))
    async with http(server.http) as client:
        routine = await submit_request(
            client,
            world.unit("FR"),
            "DE",
            priority="routine",
            headline="Phishing kit hosting: who runs the server",
        )
        emergency = await submit_request(
            client,
            world.unit("FR"),
            "DE",
            priority="emergency",
            headline="Ransomware on a hospital: preserve the negotiation mailbox",
        )

    row = page.locator(f"#request-{emergency['id']}")
    await row.wait_for(timeout=WAIT_MS)
    await page.locator(f"#request-{routine['id']}").wait_for(timeout=WAIT_MS)
    assert await queue_ids(page) == [emergency["id"], routine["id"]]  # emergencies first
    await expect(row).to_contain_text("emergency")
    await expect(row).to_contain_text("TLP:AMBER")
    await expect(row).to_contain_text("Ransomware on a hospital")
    await expect(row.locator(".badge-new")).to_have_text("new")
    await expect(row.locator("td.deadline").first).to_contain_text("in ")
    await expect(page).to_have_title("(2) Queue · relay247")
    await screenshot(page, "queue")

    await row.get_by_role("button", name="Acknowledge").click()
    # The requester hears of both requests' delivery (the page showed them) and the ack.
    heard = [await requester.receive(wait=10) for _ in range(3)]
    assert ("request.acknowledged", emergency["id"]) in {
        (frame["event"], frame["data"]["request_id"]) for frame in heard
    }
    await expect(row).to_contain_text("acknowledged")
    await expect(page).to_have_title("(1) Queue · relay247")
    await requester.close()


async def test_a_new_assignment_rings_and_notifies_once_allowed(
    server: RunningServer, world: World, page: Page, context: BrowserContext
) -> None:
    await context.grant_permissions(["notifications"])
    # Headless Chromium shows no notification: note each one the page makes instead.
    await page.add_init_script(
        "window.__notified = [];"
        "window.Notification = class extends Notification {"
        "  constructor(title, options) { super(title, options); window.__notified.push(title); }"
        "};"
    )
    await sign_in(page, server, world.desk("DE"))
    await page.get_by_role("button", name="Turn on sound and notifications").click()
    switch = page.get_by_role("button", name="Sound and notifications on")
    await expect(switch).to_have_attribute("aria-pressed", "true")
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", priority="emergency")
    await page.locator(f"#request-{created['id']}").wait_for(timeout=WAIT_MS)
    await page.wait_for_function("window.__notified.length > 0", timeout=WAIT_MS)
    assert await page.evaluate("window.__notified") == ["New emergency request from FR"]


async def test_the_request_page_shows_content_thread_files_and_allowed_actions(
    server: RunningServer, world: World, page: Page
) -> None:
    await sign_in(page, server, world.desk("DE"))
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE")
    await page.locator(f"#request-{created['id']} a").click()
    await page.wait_for_selector("body[data-loaded='true']")

    await expect(page.locator("#content")).to_contain_text(request_body("DE")["subject"])
    buttons = page.locator("#action-buttons button")
    await expect(buttons).to_have_text(["Acknowledge", "Decline"])
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(buttons).to_have_text(
        ["Start work", "Ask for information", "Mark responded", "Decline"]
    )
    await page.get_by_label("Message").fill("Preservation order issued; provider notified.")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#messages")).to_contain_text("provider notified")
    await page.get_by_label("Add a file").set_input_files(
        files=[{"name": "Ordre l'été (2).txt", "mimeType": "text/plain", "buffer": b"order 42\n"}]
    )
    async with page.expect_request(
        lambda sent: sent.method == "POST" and "/files" in sent.url
    ) as upload:
        await page.get_by_role("button", name="Upload").click()
    # The name is content: in a header, never in the URL that access logs write.
    assert "Ordre" not in (await upload.value).url
    await expect(page.locator("#files")).to_contain_text("Ordre l'été (2).txt")
    await expect(page.locator("#history")).to_contain_text("acknowledge")

    # A decline is confirmed, and its reason asked for before it is even sent.
    await page.locator("#action-buttons").get_by_role("button", name="Decline").click()
    await page.get_by_role("button", name="Decline the request").click()
    await expect(page.locator("#action-form [role=alert]")).to_contain_text("Say why")
    await expect(page.locator("#request-status")).to_have_text("acknowledged")


async def test_the_countdown_runs_out_and_the_escalation_shows(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        await sign_in(page, server, world.desk("DE"))
        created = await submit_request(client, world.unit("FR"), "DE")
    row = page.locator(f"#request-{created['id']}")
    await expect(row.locator("td.deadline").first).to_contain_text("in ", timeout=WAIT_MS)
    await bring_due(db, created["id"], "ack")  # as if its time ran out
    await expect(row.locator(".flag.escalated")).to_be_visible(timeout=WAIT_MS)
    await expect(row.locator("td.deadline").first).to_have_attribute("data-level", "ok")


async def test_the_page_rides_out_a_server_restart_without_losing_or_doubling(
    database_url: str, world: World, page: Page
) -> None:
    port = free_port()
    unit = world.unit("FR")
    async with serving_app(create_app(database_url), port=port) as first:
        await sign_in(page, first, world.desk("DE"))
        async with http(first.http) as client:
            before = await submit_request(client, unit, "DE")
        await page.locator(f"#request-{before['id']}").wait_for(timeout=WAIT_MS)

    await page.wait_for_selector("body[data-connection='reconnecting']", timeout=WAIT_MS)
    # While the page's server is down, another instance takes requests for the desk.
    async with running_server(database_url) as other, http(other.http) as client:
        during = [await submit_request(client, unit, "DE") for _ in range(3)]
    await screenshot(page, "reconnecting")

    async with serving_app(create_app(database_url), port=port) as second:
        await page.wait_for_selector("body[data-connection='live']", timeout=30_000)
        for created in during:
            await page.locator(f"#request-{created['id']}").wait_for(timeout=WAIT_MS)
        async with http(second.http) as client:
            after = await submit_request(client, unit, "DE")
        await page.locator(f"#request-{after['id']}").wait_for(timeout=WAIT_MS)
        shown = await queue_ids(page)
    expected = {before["id"], after["id"], *(created["id"] for created in during)}
    assert sorted(shown) == sorted(expected)  # each once, none lost


async def test_another_countrys_request_never_appears(
    server: RunningServer, world: World, page: Page
) -> None:
    await sign_in(page, server, world.desk("DE"))
    async with http(server.http) as client:
        elsewhere = await submit_request(client, world.unit("FR"), "JP")
        mine = await submit_request(client, world.unit("FR"), "DE")
    await page.locator(f"#request-{mine['id']}").wait_for(timeout=WAIT_MS)
    assert await queue_ids(page) == [mine["id"]]
    assert elsewhere["id"] not in await page.content()

    # Nor by its address: the API answers the page as it answers anyone.
    await page.goto(f"{server.http}/web/requests/{elsewhere['id']}")
    await expect(page.locator("#problem")).to_contain_text("no request", timeout=WAIT_MS)
    await expect(page.locator("#content")).to_be_empty()


async def test_who_holds_a_request_is_named_to_those_who_may_see_people(
    server: RunningServer, world: World, database: Database, page: Page, browser: Browser
) -> None:
    colleague = await make_contact_point(database, world, "DE", "Insp. Anna Weber")
    other = await make_contact_point(database, world, "DE", "Kommissar Jonas Berg")
    async with http(server.http) as client:
        created = await held_by_colleague(client, world, colleague)
        held = {
            created["id"]: "Insp. Anna Weber",
            (await held_by_colleague(client, world, colleague))["id"]: "Insp. Anna Weber",
            (await held_by_colleague(client, world, other))["id"]: "Kommissar Jonas Berg",
        }

    # Her own desk: in the queue and on the request's page; the desk's people read in one
    # list, however many requests they hold.
    asked_by_desk: list[str] = []
    page.on("request", lambda request: asked_by_desk.append(request.url))
    await sign_in(page, server, world.desk("DE"))
    for request_id, name in held.items():
        held_by = page.locator(f"#request-{request_id} [data-label='held by']")
        await expect(held_by).to_have_text(name, timeout=WAIT_MS)
    assert len([url for url in asked_by_desk if "/v1/principals" in url]) == 1
    await page.locator(f"#request-{created['id']} a").click()
    await expect(page.locator("#request-meta")).to_contain_text("Insp. Anna Weber")

    # The sending unit may not see Germany's people: its page does not even ask.
    sender = await browser.new_context()
    try:
        unit_page = await sender.new_page()
        asked: list[str] = []
        unit_page.on("request", lambda request: asked.append(request.url))
        await sign_in(unit_page, server, world.unit("FR"))
        cell = unit_page.locator(f"#request-{created['id']} [data-label='held by']")
        await expect(cell).to_have_text("Another contact point", timeout=WAIT_MS)
        assert not [url for url in asked if "/v1/principals" in url]
    finally:
        await sender.close()


async def test_a_holders_name_missed_while_the_service_was_away_comes_with_the_next_change(
    server: RunningServer, world: World, database: Database, page: Page
) -> None:
    colleague = await make_contact_point(database, world, "DE", "Insp. Anna Weber")
    async with http(server.http) as client:
        created = await held_by_colleague(client, world, colleague)
    refused: list[str] = []
    service_back = False

    async def unavailable_until_back(route: Route) -> None:
        # Away until the test says it is back: every redraw meanwhile (the page's own receipt
        # of the request redraws its row) misses the name too, so what the page shows while
        # away is seen for certain, not raced.
        if service_back:
            await route.continue_()
            return
        refused.append(route.request.url)
        await route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"title": "Service Unavailable", "status": 503}',
        )

    await page.route(lambda url: "/v1/principals" in url, unavailable_until_back)
    await sign_in(page, server, world.desk("DE"))
    held_by = page.locator(f"#request-{created['id']} [data-label='held by']")
    await expect(held_by).to_have_text("Another contact point", timeout=WAIT_MS)
    assert refused
    service_back = True

    # The holder acknowledges: the row is drawn again, and the name read again.
    async with http(server.http) as client:
        acknowledged = await client.post(
            f"/v1/requests/{created['id']}/ack", headers=colleague.headers
        )
        assert acknowledged.status_code == 200, acknowledged.text
    await expect(held_by).to_have_text("Insp. Anna Weber", timeout=WAIT_MS)


async def test_signing_out_ends_the_session_on_the_server(
    server: RunningServer, world: World, page: Page, context: BrowserContext
) -> None:
    await sign_in(page, server, world.desk("DE"))
    cookie = next(c["value"] for c in await context.cookies() if c["name"] == "relay247_session")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{server.http}/web/sign-in")

    async with http(server.http) as client:
        answer = await client.get("/v1/me", headers={"Authorization": f"Bearer {cookie}"})
        assert answer.status_code == 401
        replayed = await client.get("/web/", headers={"Cookie": f"relay247_session={cookie}"})
        assert replayed.status_code == 303
    await page.goto(f"{server.http}/web/")
    await page.wait_for_url(f"{server.http}/web/sign-in")


async def test_a_bad_token_is_told_plainly(server: RunningServer, page: Page) -> None:
    await page.goto(f"{server.http}/web/sign-in")
    await page.get_by_label("Token").fill("r247_000000000000_" + "x" * 43)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("does not work")
    await screenshot(page, "sign-in")


async def test_the_queue_fits_a_phone_and_works_from_the_keyboard(
    server: RunningServer, world: World, browser: Browser
) -> None:
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = await phone.new_page()
        await sign_in(page, server, world.desk("DE"))
        async with http(server.http) as client:
            created = await submit_request(client, world.unit("FR"), "DE", priority="emergency")
        row = page.locator(f"#request-{created['id']}")
        await row.wait_for(timeout=WAIT_MS)
        overflow = await page.evaluate(
            "document.scrollingElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0  # nothing to scroll sideways
        await screenshot(page, "queue-phone")

        # Tab to the request's Acknowledge button and press Enter: no mouse needed.
        button = row.get_by_role("button", name="Acknowledge")
        for _ in range(30):
            if await button.evaluate("node => node === document.activeElement"):
                break
            await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await expect(row).to_contain_text("acknowledged", timeout=WAIT_MS)
    finally:
        await phone.close()


async def test_a_red_request_page_left_open_by_its_previous_holder_stops_showing_content(
    server: RunningServer, world: World, database: Database, page: Page
) -> None:
    holder = world.desk("DE")
    colleague = await make_contact_point(database, world, "DE", "DE colleague")
    await make_rotation(database, "DE", [holder.principal_id])
    await sign_in(page, server, holder)
    async with http(server.http) as client:
        request_id = await red_request(client, world, holder)
        await page.goto(f"{server.http}/web/requests/{request_id}")
        await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")
        await expect(page.locator("#content")).to_contain_text(request_body("DE")["subject"])
        await expect(page.locator("#messages")).to_contain_text("The alias")
        await expect(page.locator("#files")).to_contain_text("mailbox.txt")

        handed = await client.post(
            f"/v1/requests/{request_id}/assign",
            json={"principal_id": str(colleague.principal_id)},
            headers=world.gs.headers,
        )
        assert handed.status_code == 200, handed.text
    await expect(page.locator("#content")).to_contain_text("changed hands", timeout=WAIT_MS)
    await expect(page.locator("#messages")).not_to_contain_text("The alias", timeout=WAIT_MS)
    await expect(page.locator("#files")).not_to_contain_text("mailbox.txt", timeout=WAIT_MS)
    # Asked for again, the service decides: the previous holder may read it no more.
    await page.get_by_role("button", name="Show the content again").click()
    await expect(page.locator("#content")).to_contain_text("does not let you read", timeout=WAIT_MS)
