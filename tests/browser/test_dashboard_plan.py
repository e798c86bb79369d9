"""Running the plan from the pages, in a real browser against a real server and Postgres: who
is on duty now on the queue (and across the network for the global desk), the roster read by
a contact point, the escalation policy and the roster's overrides changed by the NCB with the
service's messages at the field, and the subscription link to one's own shifts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
from playwright.async_api import Page, expect

from app.core.database import Database
from app.models.enums import Layer, OverrideKind, Role
from tests.browser import screenshot, sign_in
from tests.browser.test_dashboard_sections import collect_errors, open_section
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World, make_contact_point, make_override, make_rotation

WAIT_MS = 10_000
PHONE = "+49 30 1234 5678"


async def _desk_with_backup(database: Database, world: World, db: asyncpg.Connection) -> Party:
    """Germany on Berlin time: its desk always the primary, a second officer (with a phone)
    always the backup. Returns the second officer."""
    await db.execute("UPDATE countries SET time_zone = 'Europe/Berlin' WHERE code = 'DE'")
    backup = await make_contact_point(database, world, "DE", "DE officer B")
    await db.execute("UPDATE principals SET phone = $1 WHERE id = $2", PHONE, backup.principal_id)
    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    await make_rotation(database, "DE", [backup.principal_id], layer=Layer.BACKUP)
    return backup


async def test_the_queue_says_who_is_on_duty_and_follows_the_hand_off(
    server: RunningServer, world: World, page: Page, database: Database, db: asyncpg.Connection
) -> None:
    backup = await _desk_with_backup(database, world, db)
    # The backup covers the primary layer for a few more seconds: then the rotation's
    # primary is on duty again, and the page must say so without being reloaded.
    now = datetime.now(UTC)
    cover_ends = (now + timedelta(seconds=8)).replace(microsecond=0)
    await make_override(
        database,
        "DE",
        OverrideKind.COVER,
        backup.principal_id,
        layer=Layer.PRIMARY,
        starts_at=now - timedelta(hours=1),
        ends_at=cover_ends,
    )
    errors = collect_errors(page)
    await sign_in(page, server, world.desk("DE"))
    panel = page.locator("#on-duty-panel")
    await expect(panel).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#on-duty-zone")).to_have_text("DE desk, times in Europe/Berlin")
    primary, backup_now = page.locator("#now-primary"), page.locator("#now-backup")
    await expect(primary).to_contain_text("DE officer B (cover)")
    await expect(primary).to_contain_text("since")
    await expect(backup_now).to_contain_text("DE officer B")
    await expect(backup_now.locator(".phone a")).to_have_text(PHONE)
    await expect(backup_now.locator(".phone a")).to_have_attribute("href", "tel:+493012345678")
    # The next hand-off is the cover's end, computed, not polled for.
    assert await panel.get_attribute("data-next-change") == cover_ends.isoformat().replace(
        "+00:00", ".000Z"
    )
    await screenshot(page, "on-duty")

    await expect(primary).to_contain_text("DE contact_point", timeout=20_000)
    await expect(primary).not_to_contain_text("cover")
    assert errors == []


async def test_the_global_desk_sees_every_desk_on_duty(
    server: RunningServer, world: World, page: Page, database: Database, db: asyncpg.Connection
) -> None:
    await _desk_with_backup(database, world, db)
    errors = await open_section(page, server, world.gs, "network")
    table = page.locator("#network-duty")
    await expect(table).to_have_attribute("data-loaded", "true", timeout=WAIT_MS)
    await expect(page.locator("#duty-DE td").nth(0)).to_contain_text("DE contact_point")
    await expect(page.locator("#duty-DE td").nth(1)).to_contain_text("DE officer B")
    await expect(page.locator("#duty-FR td").nth(0)).to_have_text("No one on duty")
    await expect(page.locator("#duty-JP td").nth(1)).to_have_class("gap")
    assert errors() == []


async def test_a_contact_point_reads_the_roster_and_the_policy_without_controls(
    server: RunningServer, world: World, page: Page, database: Database, db: asyncpg.Connection
) -> None:
    backup = await _desk_with_backup(database, world, db)
    starts = datetime.now(UTC) + timedelta(days=1)
    await make_override(
        database,
        "DE",
        OverrideKind.LEAVE,
        backup.principal_id,
        starts_at=starts,
        ends_at=starts + timedelta(days=2),
    )
    errors = collect_errors(page)
    await sign_in(page, server, world.desk("DE"))
    navigation = page.get_by_role("navigation", name="Sections")
    await expect(navigation.get_by_role("link", name="Overdue and escalated")).to_be_visible()
    await navigation.get_by_role("link", name="Roster").click()
    await page.wait_for_selector("#overrides[data-loaded='true']", timeout=WAIT_MS)
    await expect(page.locator("#on-duty-primary")).to_contain_text("DE contact_point")
    rows = page.locator("#override-rows tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("leave")
    await expect(rows.first).to_contain_text("DE officer B")
    # What a contact point may not change, the page does not offer.
    await expect(page.locator("#override-form")).to_have_count(0)
    await expect(rows.first.get_by_role("button")).to_have_count(0)

    await page.goto(f"{server.http}/web/escalation")
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    await expect(page.locator("#policy-state")).to_contain_text("network default")
    await expect(page.locator(".rule")).to_have_count(3)
    await expect(page.locator("#policy-save")).to_have_count(0)
    await expect(page.get_by_role("button", name=re.compile("Add a step"))).to_have_count(0)
    enabled = page.locator("#policy-form input:enabled, #policy-form select:enabled")
    await expect(enabled).to_have_count(0)
    assert errors == []


async def test_the_ncb_edits_the_escalation_policy_with_errors_at_the_field(
    server: RunningServer, world: World, page: Page
) -> None:
    ncb = world("DE", Role.NCB)
    errors = await open_section(page, server, ncb, "escalation")
    emergency = page.locator(".rule[data-priority='emergency'][data-type='']")
    steps = emergency.locator(".step")
    await expect(steps).to_have_count(4)
    await emergency.get_by_role("button", name="Remove step 2").click()
    await expect(steps).to_have_count(3)
    await emergency.get_by_role("button", name=re.compile("Add a step")).click()
    await expect(steps).to_have_count(4)
    # The new step goes before the global desk, alerting whom the rule no longer does.
    added = steps.nth(2)
    await expect(added.get_by_label("Alerts")).to_have_value("on_duty_backup")
    await expect(steps.nth(3).get_by_label("Alerts")).to_have_value("global_desk")
    timeout = added.get_by_label("Time to acknowledge (seconds)")
    await timeout.fill("0")
    await page.get_by_role("button", name="Save the policy").click()

    # The service's own message, next to the field it names, and nowhere else.
    message = added.locator(".field-error")
    await expect(message).to_contain_text("greater than 0")
    await expect(timeout).to_have_attribute("aria-invalid", "true")
    described = await timeout.get_attribute("aria-describedby")
    assert described == await message.get_attribute("id")
    await expect(page.locator("#policy-form .form-problem")).to_be_hidden()
    await screenshot(page, "escalation-policy")

    await timeout.fill("120")
    await expect(added.locator(".hint").first).to_have_text("= 2 min")
    await page.get_by_role("button", name="Save the policy").click()
    await expect(page.locator("#policy-status")).to_contain_text("Saved: version 1")
    await expect(page.locator(".field-error")).to_have_count(0)

    await page.reload()
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    await expect(page.locator("#policy-state")).to_contain_text("Version 1")
    targets = [
        await steps.nth(n).get_by_label("Alerts").input_value() for n in range(await steps.count())
    ]
    assert targets == ["on_duty_primary", "ncb", "on_duty_backup", "global_desk"]
    await expect(steps.nth(2).get_by_label("Time to acknowledge (seconds)")).to_have_value("120")

    # A message about a whole rule goes to the rule.
    await emergency.get_by_role("button", name="Move step 4 up").click()
    await page.get_by_role("button", name="Save the policy").click()
    await expect(emergency.locator(":scope > .field-error")).to_contain_text(
        "the last step must reach the global desk"
    )
    await emergency.get_by_role("button", name="Move step 3 down").click()
    await expect(steps.nth(3).get_by_label("Alerts")).to_have_value("global_desk")

    # Someone else saves meanwhile: the page says so, and reloads on request.
    async with http(server.http) as client:
        current = await client.get("/v1/countries/DE/escalation-policy", headers=ncb.headers)
        document = current.json()["document"]
        document["preservation_days"] = 90
        changed = await client.put(
            "/v1/countries/DE/escalation-policy",
            json=document,
            headers={**ncb.headers, "If-Match": current.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text
    await page.get_by_label("Extension a requester may ask for (days)").fill("45")
    await page.get_by_role("button", name="Save the policy").click()
    conflict = page.locator("#policy-conflict")
    await expect(conflict).to_be_visible()
    await expect(conflict).to_contain_text("Someone else changed this policy")
    await page.get_by_role("button", name="Reload the current policy").click()
    await expect(conflict).to_be_hidden()
    await expect(page.locator("#policy-state")).to_contain_text("Version 2")
    await expect(page.get_by_label("Preserved data is kept (days)")).to_have_value("90")
    await expect(page.get_by_label("Extension a requester may ask for (days)")).to_have_value("30")

    # Back to the network default, after asking.
    await page.get_by_role("button", name="Use the network default instead…").click()
    await page.get_by_role("button", name="Yes, use the default").click()
    await expect(page.locator("#policy-state")).to_contain_text("network default")
    await expect(page.locator("#policy-status")).to_have_text(
        "DE follows the network default again."
    )
    await expect(emergency.locator(".step").nth(1).get_by_label("Alerts")).to_have_value(
        "on_duty_backup"
    )
    assert errors() == []


async def test_the_ncb_adds_then_cancels_a_cover_from_the_roster(
    server: RunningServer, world: World, page: Page, database: Database, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE countries SET time_zone = 'Europe/Berlin' WHERE code = 'DE'")
    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    await make_contact_point(database, world, "DE", "DE officer B")
    errors = await open_section(page, server, world("DE", Role.NCB), "roster")
    form = page.locator("#override-form")
    await expect(form).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
    await expect(form.get_by_text("From (Europe/Berlin)")).to_be_visible()

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    await form.get_by_label("Kind").select_option("cover")
    await form.get_by_label("Layer").select_option("primary")
    await form.get_by_label("Who").select_option(label="DE officer B")
    await form.get_by_label("From").fill(f"{tomorrow}T14:00")
    await form.get_by_label("Until").fill(f"{tomorrow}T10:00")
    await form.get_by_role("button", name="Add").click()
    until = form.get_by_label("Until")
    await expect(until).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("#override-ends + .field-error")).to_have_text(
        "Value error, must be after starts_at"
    )

    await until.fill(f"{tomorrow}T22:00")
    await form.get_by_role("button", name="Add").click()
    rows = page.locator("#override-rows tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("DE officer B")
    await expect(page.locator("#override-status")).to_have_text(
        "The cover of DE officer B was added."
    )
    # Entered as Berlin time, stored as the instant it is there (13:00 UTC in winter, 12:00
    # in summer), and the week shows the cover.
    async with http(server.http) as client:
        listed = await client.get(
            "/v1/countries/DE/roster/overrides", headers=world("DE", Role.NCB).headers
        )
    starts_at = datetime.fromisoformat(listed.json()["items"][0]["starts_at"])
    assert starts_at.astimezone(UTC).hour in (12, 13)
    cover = page.locator("#week .shift", has_text="DE officer B")
    await expect(cover.first).to_contain_text("cover")
    await screenshot(page, "roster")

    await rows.first.get_by_role("button", name=re.compile("Cancel the cover")).click()
    await rows.first.get_by_role("button", name="Keep it").click()
    await expect(rows).to_have_count(1)
    await rows.first.get_by_role("button", name=re.compile("Cancel the cover")).click()
    await rows.first.get_by_role("button", name="Yes, cancel it").click()
    await expect(rows).to_have_count(0)
    await expect(page.locator("#overrides-empty")).to_be_visible()
    await expect(cover).to_have_count(0)
    assert errors() == []


async def test_the_subscription_link_is_shown_once(
    server: RunningServer, world: World, page: Page, database: Database
) -> None:
    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    errors = await open_section(page, server, world.desk("DE"), "roster")
    feed = page.locator("#calendar-feed")
    await expect(feed).to_have_attribute("data-loaded", "true", timeout=WAIT_MS)
    await expect(page.locator("#feed-none")).to_be_visible()
    await page.get_by_role("button", name="Make a subscription link").click()
    link = page.get_by_label("Web link (https)")
    await expect(link).to_have_value(re.compile(r"/v1/calendar/r247_[0-9a-f]{12}_[\w-]{43}\.ics$"))
    webcal = await page.get_by_label("Calendar link (webcal)").input_value()
    assert webcal.startswith("webcal://")
    path = "/v1/calendar/" + (await link.input_value()).split("/v1/calendar/", 1)[1]
    async with http(server.http) as client:
        answer = await client.get(path)
        assert answer.status_code == 200
        assert b"BEGIN:VEVENT" in answer.content

        await page.reload()
        await expect(feed).to_have_attribute("data-loaded", "true", timeout=WAIT_MS)
        await expect(page.locator("#feed-active")).to_be_visible()
        await expect(page.locator(".feed-link")).to_have_count(0)
        assert path not in await page.content()

        await page.get_by_role("button", name="Revoke the link").click()
        await expect(page.locator("#feed-none")).to_be_visible()
        assert (await client.get(path)).status_code == 404
    assert errors() == []
