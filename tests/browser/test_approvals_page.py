"""Four-eyes in a real browser, against a real server: the sender following its held
request's link lands on it on the approvals page and may withdraw it but not approve it; a
second officer opens it (an audited read), a refusal without a reason is refused at the form,
the approval sends it; the target's request page shows it was approved and by which role."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Page, expect

from app.core.database import Database
from app.models.enums import Role
from tests.browser import screenshot
from tests.browser.a11y import accessibility_violations
from tests.browser.test_dashboard import WAIT_MS
from tests.browser.test_dashboard_sections import open_section
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World
from tests.four_eyes import country_policy, hold, second_officer


async def test_a_second_officer_approves_on_the_page_and_the_target_sees_it_approved(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection, page: Page
) -> None:
    requester = world.unit("FR")
    approver = await second_officer(database, world)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, requester)

    # Its sender, by the request's own link: the held request, withdrawable, not approvable.
    errors = await open_section(page, server, requester, f"requests/{held['id']}")
    await page.wait_for_url(f"**/web/approvals?id={held['id']}", timeout=WAIT_MS)
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    await expect(page.locator("#approval-status")).to_have_text("Awaiting approval")
    await expect(page.locator("#approval-sender")).to_have_text("you")
    await expect(page.get_by_role("button", name="Withdraw it")).to_be_visible()
    await expect(page.get_by_role("button", name="Approve and send")).to_be_hidden()
    assert errors() == []
    await page.context.clear_cookies()

    # A second officer: the list, then the request itself.
    errors = await open_section(page, server, approver, "approvals")
    row = page.locator(f"#approval-{held['id']}")
    await expect(row).to_contain_text("Kidnapping: account of the caller")
    await expect(row).to_contain_text("Awaiting approval")
    await row.get_by_role("button", name="Open").click()
    await expect(page.locator("#approval-content h3")).to_have_text(
        "Preserve the mailbox of a ransomware negotiator"
    )
    # A unit officer does not see its colleagues by name: the sender by role and agency.
    await expect(page.locator("#approval-sender")).to_have_text("unit, FR unit (FR)")
    assert await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE action = 'approval.read' "
        "AND object_id = $1 AND actor_principal_id = $2",
        held["id"],
        approver.principal_id,
    )
    await screenshot(page, "approvals")
    # Refusing needs a reason: the API's 422 is shown at the form, nothing is decided.
    await page.get_by_role("button", name="Refuse").click()
    await expect(page.locator("#approval-form [role=alert]")).to_contain_text("reason")
    assert await accessibility_violations(page) == []
    await page.get_by_role("button", name="Approve and send").click()
    await expect(page.locator("#approval-status")).to_have_text(
        "Approved and sent", timeout=WAIT_MS
    )
    await expect(row).to_contain_text("Approved and sent")
    assert errors() == []
    await page.context.clear_cookies()

    # The target's page says it was approved, and in which role.
    errors = await open_section(page, server, world.desk("DE"), f"requests/{held['id']}")
    await expect(page.locator("#request-approved")).to_contain_text("unit", timeout=WAIT_MS)
    assert errors() == []


async def test_the_sender_sees_a_refusal_and_its_reason_arrive_live(
    server: RunningServer, world: World, page: Page
) -> None:
    requester = world.unit("FR")
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, requester)
        errors = await open_section(
            page, server, requester, "approvals", search=f"?id={held['id']}"
        )
        await page.wait_for_selector("body[data-connection='live']", timeout=WAIT_MS)
        await expect(page.locator("#approval-status")).to_have_text("Awaiting approval")
        refused = await client.post(
            f"/v1/approvals/{held['id']}/refuse",
            json={"reason": "Not an emergency: use a production order"},
            headers=world("FR", Role.NCB).headers,
        )
        assert refused.status_code == 200, refused.text
    await expect(page.locator("#approval-status")).to_have_text("Refused", timeout=WAIT_MS)
    await expect(page.locator("#approval-reason-shown")).to_have_text(
        "Not an emergency: use a production order"
    )
    await expect(page.locator(f"#approval-{held['id']}")).to_contain_text("Refused")
    await expect(page.get_by_role("button", name="Withdraw it")).to_be_hidden()
    assert errors() == []


async def test_the_senders_queue_shows_its_request_once_approved(
    server: RunningServer, world: World, page: Page
) -> None:
    requester = world.unit("FR")
    async with http(server.http) as client:
        await country_policy(client, world)
        errors = await open_section(page, server, requester, "")
        await page.wait_for_selector("body[data-connection='live']", timeout=WAIT_MS)
        held = await hold(client, requester)
        row = page.locator(f"#request-{held['id']}")
        approved = await client.post(
            f"/v1/approvals/{held['id']}/approve", headers=world("FR", Role.NCB).headers
        )
        assert approved.status_code == 200, approved.text
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_contain_text("Kidnapping: account of the caller")
    assert errors() == []
