"""A request's page in a real browser, against a real server and Postgres: the escalation
chain step by step as the worker moves it on (time driven by making deadlines due, never by
sleeping), hand over and take over, a decline that must be confirmed with a reason, the
thread with its authors, evaluation codes and the desk's question, the TLP chooser, and no
audited content read caused by a push."""

from __future__ import annotations

import re
import uuid

import asyncpg
from playwright.async_api import Page, expect

from app.core.database import Database
from app.models.enums import Role
from tests.browser import screenshot, sign_in
from tests.browser.a11y import THEMES, accessibility_violations, use_system_theme
from tests.browser.test_dashboard import WAIT_MS
from tests.browser.test_dashboard_sections import collect_errors, open_section
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import World, make_contact_point, make_rotation, request_body
from tests.test_alert_fanout import reachable
from tests.test_escalation import backup_on_duty, use_policy
from tests.waiting import eventually


async def open_request(page: Page, server: RunningServer, request_id: str) -> None:
    await page.goto(f"{server.http}/web/requests/{request_id}")
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")


async def content_reads(db: asyncpg.Connection, request_id: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE object_id = $1 AND action = 'request.read'",
        request_id,
    )
    return count


async def test_the_chain_shows_each_step_with_who_and_when_and_follows_the_escalation(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection, page: Page
) -> None:
    officer = world.desk("DE")
    backup = await backup_on_duty(database, world)
    for party in (officer, backup, world("DE", Role.NCB)):
        await reachable(db, party)
    errors = collect_errors(page)  # filled as the page goes
    await sign_in(page, server, officer)
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
    await open_request(page, server, request_id)

    steps = page.locator("#chain li.chain-step")
    await expect(steps).to_have_count(4)
    await expect(steps.nth(0)).to_have_attribute("data-state", "current")
    await expect(steps.nth(0).locator(".chain-reaches")).to_have_text("you")
    await expect(steps.nth(0)).to_contain_text("acknowledge by")
    await expect(steps.nth(0).locator(".alerted-people")).to_contain_text("DE contact_point")
    await expect(steps.nth(1).locator(".chain-reaches")).to_have_text("DE backup")
    await expect(steps.nth(1)).to_contain_text("fires at")
    await expect(steps.nth(2).locator(".chain-reaches")).to_have_text("NCB DE (DE ncb)")
    await expect(steps.nth(3).locator(".chain-reaches")).to_have_text("the global desk")
    await expect(page.locator("#then")).to_contain_text(re.compile(r"then: DE backup at \d"))
    await expect(page.locator("#held-by")).to_have_text("you")

    # Nobody acknowledges: the worker moves it to the backup, then to the NCB.
    await bring_due(db, request_id, "ack")
    await expect(steps.nth(1)).to_have_attribute("data-state", "current", timeout=WAIT_MS)
    await expect(steps.nth(0)).to_have_attribute("data-state", "passed")
    await expect(steps.nth(0)).to_contain_text("nobody acknowledged within")
    await expect(steps.nth(1)).to_contain_text("reached")
    await expect(steps.nth(1).locator(".alerted-people")).to_contain_text("DE backup")
    await expect(page.locator("#held-by")).to_have_text("DE backup")
    await expect(page.locator("#then")).to_contain_text("then: NCB DE (DE ncb) at")

    await bring_due(db, request_id, "ack")
    await expect(steps.nth(2)).to_have_attribute("data-state", "current", timeout=WAIT_MS)
    await expect(page.locator("#held-by")).to_contain_text("NCB DE (DE ncb)")
    await expect(page.locator("#held-by")).to_contain_text("being chased now")
    await expect(page.locator("#then")).to_contain_text("then: the global desk at")
    await expect(steps.nth(2).locator(".alerted-people")).to_contain_text("DE ncb")
    await screenshot(page, "request-chain")

    # An acknowledgement stops it where it is.
    await page.locator("#action-buttons").get_by_role("button", name="Acknowledge").click()
    await expect(steps.nth(2)).to_have_attribute("data-state", "stopped", timeout=WAIT_MS)
    await expect(steps.nth(3)).to_have_attribute("data-state", "not_reached")
    await expect(page.locator("#then")).to_have_count(0)
    assert errors == []  # no script error, no CSP refusal


async def test_a_contact_point_hands_the_request_to_a_colleague_and_takes_it_back(
    server: RunningServer, world: World, database: Database, page: Page
) -> None:
    officer = world.desk("DE")
    colleague = await make_contact_point(database, world, "DE", "Insp. Anna Weber")
    await make_rotation(database, "DE", [officer.principal_id])
    await sign_in(page, server, officer)
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
    await open_request(page, server, request_id)

    handover = page.locator("#handover")
    await expect(page.locator("#take-over")).to_be_hidden()  # it is the reader's already
    await handover.get_by_label("Hand over to").select_option(label="Insp. Anna Weber")
    await handover.get_by_role("button", name="Hand over", exact=True).click()
    await expect(page.locator("#handover-done")).to_have_text("Handed over to Insp. Anna Weber.")
    await expect(page.locator("#held-by")).to_have_text("Insp. Anna Weber", timeout=WAIT_MS)

    await page.get_by_role("button", name="Take it over myself").click()
    await expect(page.locator("#handover-done")).to_have_text("You hold this request now.")
    await expect(page.locator("#held-by")).to_have_text("you", timeout=WAIT_MS)
    async with http(server.http) as client:
        shown = await client.get(f"/v1/requests/{request_id}", headers=colleague.headers)
    assert shown.json()["assigned_to"] == str(officer.principal_id)


async def test_the_requester_sees_no_hand_over_and_a_cancel_needs_confirm_and_reason(
    server: RunningServer, world: World, page: Page
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        request_id = (await submit_request(client, unit, "DE"))["id"]
    await sign_in(page, server, unit)
    await open_request(page, server, request_id)
    await expect(page.locator("#handover")).to_be_hidden()

    cancel = page.locator("#action-buttons").get_by_role("button", name="Cancel request")
    await expect(cancel).to_have_class("danger")
    await cancel.click()
    confirm = page.locator("#action-confirm")
    await expect(confirm).to_be_visible()
    await confirm.get_by_role("button", name="Cancel the request").click()
    await expect(page.locator("#action-form [role=alert]")).to_contain_text("Say why")
    await expect(page.locator("#request-status")).to_have_text("submitted")  # nothing sent
    await confirm.get_by_label("Why you cancel").fill("Sent to the wrong country")
    await confirm.get_by_role("button", name="Cancel the request").click()
    await expect(page.locator("#request-status")).to_have_text("cancelled", timeout=WAIT_MS)
    # Final: no form that could not succeed.
    await expect(page.locator("#message-form")).to_be_hidden()
    await expect(page.locator("#file-form")).to_be_hidden()
    await expect(page.locator("#history")).to_contain_text("Sent to the wrong country")


async def test_the_thread_names_authors_shows_evaluation_codes_and_the_desks_question(
    server: RunningServer, world: World, db: asyncpg.Connection, page: Page
) -> None:
    officer, unit = world.desk("DE"), world.unit("FR")
    await db.execute("UPDATE countries SET desk_phone = '+33 1 40 97 00 00' WHERE code = 'FR'")
    async with http(server.http) as client:
        request_id = (await submit_request(client, unit, "DE"))["id"]
        posted = await client.post(
            f"/v1/requests/{request_id}/messages",
            json={"text": "The account was created on 2026-11-01."},
            headers=unit.headers,
        )
        assert posted.status_code == 201, posted.text
    errors = collect_errors(page)  # filled as the page goes
    await sign_in(page, server, officer)
    await open_request(page, server, request_id)

    # What is asked comes before what can be done, and the sender and call-back number show.
    order = await page.evaluate(
        "['content', 'requester', 'action-buttons', 'chain', 'messages']"
        ".map(id => document.getElementById(id).getBoundingClientRect().top)"
    )
    assert order == sorted(order)
    await expect(page.locator("#requester")).to_contain_text("FR unit (France, FR)")
    await expect(page.locator("#desk-phone")).to_have_text("+33 1 40 97 00 00")
    await expect(page.locator("#requester")).to_contain_text("unit, FR unit (FR)")

    await page.locator("#action-buttons").get_by_role("button", name="Acknowledge").click()
    await page.get_by_role("button", name="Ask for information").click()
    await page.get_by_label("Your question").fill("Which of the two aliases?")
    await page.get_by_role("button", name="Send the question").click()
    question = page.locator("#messages li.spoken[data-action='request_info']")
    await expect(question).to_contain_text("Which of the two aliases?", timeout=WAIT_MS)
    await expect(question).to_contain_text("Question from you")

    form = page.locator("#message-form")
    await form.get_by_label("Message").fill("Provider confirms the data is preserved.")
    await form.get_by_label("Source reliability").select_option("B")
    await form.get_by_label("Information accuracy").select_option("2")
    await expect(form.get_by_label("Handling (TLP)")).to_have_value("AMBER")  # the request's
    async with page.expect_request(
        lambda sent: sent.method == "POST" and sent.url.endswith("/messages")
    ) as sent:
        await form.get_by_role("button", name="Send").click()
    assert (await sent.value).post_data_json["handling_code"] == "AMBER"
    mine = page.locator("#messages li.message", has_text="Provider confirms")
    await expect(mine).to_contain_text("Evaluated: source B (mostly reliable), information 2")
    await expect(mine.locator(".author")).to_have_text("You")
    theirs = page.locator("#messages li.message", has_text="created on 2026-11-01")
    await expect(theirs.locator(".author")).to_have_text("unit, FR unit (FR)")
    await expect(page.locator("#history")).to_contain_text("request info by you")
    await screenshot(page, "request")
    assert errors == []


async def test_the_tlp_chooser_sends_the_chosen_code_and_offers_nothing_looser(
    server: RunningServer, world: World, database: Database, page: Page
) -> None:
    officer = world.desk("DE")
    await make_rotation(database, "DE", [officer.principal_id])  # the holder reads TLP:RED
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
    await sign_in(page, server, officer)
    await open_request(page, server, request_id)

    form = page.locator("#message-form")
    codes = await form.locator("#message-tlp option").evaluate_all(
        "options => options.map(option => option.value)"
    )
    assert codes == ["AMBER", "AMBER+STRICT", "RED"]  # the request is AMBER
    await form.get_by_label("Message").fill("For the holder only.")
    await form.get_by_label("Handling (TLP)").select_option("RED")
    await form.get_by_role("button", name="Send").click()
    red = page.locator("#messages li.message[data-handling='RED']")
    await expect(red).to_contain_text("For the holder only.", timeout=WAIT_MS)

    files = page.locator("#file-form")
    await files.get_by_label("Add a file").set_input_files(
        files=[{"name": "order.txt", "mimeType": "text/plain", "buffer": b"order 42\n"}]
    )
    await files.get_by_label("Handling (TLP)").select_option("AMBER+STRICT")
    async with page.expect_request(
        lambda sent: sent.method == "POST" and "/files" in sent.url
    ) as upload:
        await files.get_by_role("button", name="Upload").click()
    url = (await upload.value).url
    assert "handling_code=AMBER%2BSTRICT" in url
    assert "order.txt" not in url  # the name is content: in a header, never in the URL
    await expect(page.locator("#files")).to_contain_text("TLP:AMBER+STRICT", timeout=WAIT_MS)


async def test_new_messages_are_offered_and_shown_without_reading_the_others_again(
    server: RunningServer, world: World, db: asyncpg.Connection, page: Page
) -> None:
    officer, unit = world.desk("DE"), world.unit("FR")

    async def message_reads() -> int:
        count: int = await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action = 'message.read' "
            "AND actor_principal_id = $1",
            officer.principal_id,
        )
        return count

    async with http(server.http) as client:
        request_id = (await submit_request(client, unit, "DE"))["id"]
        first = await client.post(
            f"/v1/requests/{request_id}/messages", json={"text": "First"}, headers=unit.headers
        )
        assert first.status_code == 201
        await sign_in(page, server, officer)
        await open_request(page, server, request_id)
        await expect(page.locator("#messages")).to_contain_text("First")
        reads, opened = await message_reads(), await content_reads(db, request_id)
        for text in ("Second", "Third"):
            sent = await client.post(
                f"/v1/requests/{request_id}/messages", json={"text": text}, headers=unit.headers
            )
            assert sent.status_code == 201
        acked = await client.post(
            f"/v1/requests/{request_id}/ack", headers=world("DE", Role.NCB).headers
        )
        assert acked.status_code == 200
    await expect(page.locator("#request-status")).to_have_text("acknowledged", timeout=WAIT_MS)
    show = page.get_by_role("button", name="New messages: show them")
    await expect(show).to_be_visible(timeout=WAIT_MS)
    assert await message_reads() == reads  # offered, not read
    await show.click()
    await expect(page.locator("#messages")).to_contain_text("Third", timeout=WAIT_MS)
    await expect(page.locator("#messages li.message")).to_have_count(3)
    # The two new ones were read, the first not again; the content not at all.
    assert await message_reads() == reads + 2
    assert await content_reads(db, request_id) == opened
    await expect(page.locator("#content")).to_contain_text(request_body("DE")["subject"])


async def test_the_ncb_reassigns_a_request_escalated_to_it(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection, page: Page
) -> None:
    backup = await backup_on_duty(database, world)
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
    # The primary, then the backup, let their time run out.
    for step in (0, 1):
        await bring_due(db, request_id, "ack", step)

        async def moved_on(to: int = step + 1) -> bool:
            at: int = await db.fetchval(
                "SELECT escalation_step FROM requests WHERE id = $1", uuid.UUID(request_id)
            )
            return at == to

        await eventually(moved_on)
    errors = await open_section(page, server, world("DE", Role.NCB), f"requests/{request_id}")
    await page.wait_for_selector("body[data-connection='live']", timeout=WAIT_MS)
    await expect(page.locator("#held-by")).to_contain_text("being chased now")
    await expect(page.locator("#take-over")).to_be_hidden()  # an NCB holds no request itself
    # The chain at its current step and a danger action's confirmation, in both themes: no
    # WCAG 2.2 AA violation (contrast included).
    for theme in THEMES:
        await use_system_theme(page, theme)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
        await expect(page.locator("#chain-step-2")).to_have_attribute("data-state", "current")
        await page.locator("#action-buttons").get_by_role("button", name="Decline").click()
        await page.get_by_role("button", name="Decline the request").click()
        await expect(page.locator("#action-form [role=alert]")).to_be_visible()
        assert await accessibility_violations(page) == [], theme
    await page.get_by_role("button", name="Go back").click()
    await page.get_by_label("Hand over to").select_option(label="DE backup")
    await page.get_by_role("button", name="Hand over", exact=True).click()
    await expect(page.locator("#handover-done")).to_have_text("Handed over to DE backup.")
    await expect(page.locator("#held-by")).to_have_text("DE backup", timeout=WAIT_MS)
    assert (
        await db.fetchval("SELECT assigned_to FROM requests WHERE id = $1", uuid.UUID(request_id))
    ) == backup.principal_id
    assert errors() == []
