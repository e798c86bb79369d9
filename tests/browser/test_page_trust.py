"""What the pages say can be trusted, in a real browser against a real server: an event that
arrives while a request's page is open refreshes its state without reading its content (an
audited read is one the person made), and a refusal is shown beside the action that met it."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Page, expect

from tests.browser import sign_in
from tests.browser.a11y import watch
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import World
from tests.test_escalation import use_policy

WAIT_MS = 10_000
CONTENT_READS = ("request.read", "message.read", "request.history_read")


async def content_reads(db: asyncpg.Connection, principal_id: object) -> list[str]:
    rows = await db.fetch(
        "SELECT action FROM audit_entries WHERE actor_principal_id = $1 AND action = ANY($2)"
        " ORDER BY id",
        principal_id,
        list(CONTENT_READS),
    )
    return [row["action"] for row in rows]


async def test_events_on_an_open_request_page_read_no_content_until_asked(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    officer = world.desk("DE")
    watched = await watch(page)
    await sign_in(page, server, officer)
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)  # DE's desk
        created = await submit_request(client, world.unit("FR"), "DE")
        await page.goto(f"{server.http}/web/requests/{created['id']}")
        await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")
        await expect(page.locator("#content")).to_contain_text("Preserve")
        opened = await content_reads(db, officer.principal_id)
        assert opened == ["request.read"]  # opening the page: the one read the officer made

        # An escalation, an acknowledgement from another screen, a message from the requester.
        await bring_due(db, created["id"], "ack")
        await expect(page.locator("#escalation-state")).to_contain_text(
            "escalated", timeout=WAIT_MS
        )
        acked = await client.post(f"/v1/requests/{created['id']}/ack", headers=officer.headers)
        assert acked.status_code == 200, acked.text
        await expect(page.locator("#request-status")).to_have_text("acknowledged", timeout=WAIT_MS)
        sent = await client.post(
            f"/v1/requests/{created['id']}/messages",
            json={"text": "The account is also used on another forum."},
            headers=world.unit("FR").headers,
        )
        assert sent.status_code == 201, sent.text
    show = page.get_by_role("button", name="New messages: show them")
    await expect(show).to_be_visible(timeout=WAIT_MS)
    # The state moved on, the content stayed on screen, and nothing was read for it.
    await expect(page.locator("#content")).to_contain_text("Preserve")
    await expect(page.locator("#messages")).not_to_contain_text("another forum")
    assert await content_reads(db, officer.principal_id) == opened

    await show.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#messages")).to_contain_text("another forum", timeout=WAIT_MS)
    assert await content_reads(db, officer.principal_id) == [*opened, "message.read"]
    assert watched.errors == []


async def test_a_refusal_is_shown_beside_the_action_and_names_its_field(
    server: RunningServer, world: World, page: Page
) -> None:
    await sign_in(page, server, world.desk("DE"))
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE")
    await page.goto(f"{server.http}/web/requests/{created['id']}")
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")

    # A decline is confirmed first; confirmed without its reason, it is refused right there.
    await page.locator("#action-buttons").get_by_role("button", name="Decline").click()
    await page.get_by_role("button", name="Decline the request").click()
    refusal = page.locator("#action-form [role='alert']")
    await expect(refusal).to_contain_text("Say why you decline")
    reason = page.get_by_label("Why you decline")
    await expect(reason).to_have_attribute("aria-invalid", "true")
    await expect(reason).to_be_focused()
    await expect(page.locator("#problem")).to_be_hidden()  # not only in the banner off-screen

    # The service's own refusal, beside the form that sent it.
    # Longer than the service takes (the form's maxlength set aside, as a script could).
    await page.locator("#message-text").evaluate("node => node.removeAttribute('maxlength')")
    await page.locator("#message-text").fill("x" * 20001)
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#message-form [role='alert']")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#message-text")).to_have_attribute("aria-invalid", "true")

    await reason.fill("Not our case.")
    await page.get_by_role("button", name="Decline the request").click()
    await expect(page.locator("#request-status")).to_have_text("declined", timeout=WAIT_MS)
    await expect(refusal).to_have_count(0)
    # Declined, the request takes no more messages nor files: their forms are gone.
    await expect(page.locator("#message-form")).to_be_hidden()
    await expect(page.locator("#file-form")).to_be_hidden()
