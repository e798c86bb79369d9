"""The dashboard's alerts in a real browser (Chromium, driven by Playwright), against a real
server and Postgres: the switch is a preference that survives reloads and other pages, an
escalation reaching the reader's desk rings until acknowledged, and the service worker shows a
pushed alert (delivered through the DevTools protocol, as a push service would) whose
Acknowledge action acknowledges the request with no page; its withdrawal closes it. And the
page's rule of who is alerted is the server's (app/alerts/rules.py), case by case."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from playwright.async_api import BrowserContext, CDPSession, Page, Worker, expect

from app.alerts import rules
from app.core.database import Database
from app.core.service_secret import ServiceSecret
from app.core.settings import Settings
from app.models.enums import Role
from tests.browser import screenshot, sign_in
from tests.browser.test_dashboard import WAIT_MS, held_by_colleague
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World, make_contact_point
from tests.test_alert_fanout import reachable
from tests.test_escalation import use_policy
from tests.test_lifecycle_actions import act
from tests.waiting import eventually

SWITCH = "#alerts-switch"
WHY = {"reason": "Which mailbox: the address is missing its domain."}
# Records each notification the page makes (headless Chromium shows none on screen).
RECORD_NOTIFICATIONS = (
    "window.__notified = [];"
    "window.Notification = class extends Notification {"
    "  constructor(title, options) { super(title, options); window.__notified.push(title); }"
    "};"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The alerts stay in the outbox as written: the push is delivered by the test.
    return changed(settings, outbox={"outbox_sender": False})


async def rings(page: Page) -> int:
    return int(await page.evaluate("document.body.dataset.rings ?? '0'"))


async def test_the_switch_is_kept_across_reloads_pages_and_roles_pages(
    server: RunningServer, world: World, page: Page, context: BrowserContext
) -> None:
    await context.grant_permissions(["notifications"])
    await sign_in(page, server, world.desk("DE"))
    switch = page.locator(SWITCH)
    await expect(switch).to_have_attribute("aria-pressed", "false")
    await switch.click()
    await expect(switch).to_have_attribute("aria-pressed", "true")
    await expect(switch).to_have_text("Sound and notifications on")

    await page.reload()
    await expect(page.locator(SWITCH)).to_have_attribute("aria-pressed", "true")
    await page.get_by_role("link", name="Contact methods").click()
    await page.wait_for_url("**/web/contacts")
    await expect(page.locator(SWITCH)).to_have_attribute("aria-pressed", "true")
    # A preference, not a secret: localStorage holds it, and nothing of the session.
    stored = await page.evaluate("() => JSON.stringify({...localStorage})")
    assert stored == json.dumps({"relay247.alerts": "on"}, separators=(",", ":"))

    # Every page of a role that receives work offers it: the global desk's overview, the
    # NCB's roster and agreements.
    for party, path in (
        (world.gs, "/web/network"),
        (world("DE", Role.NCB), "/web/roster"),
        (world("DE", Role.NCB), "/web/agreements"),
    ):
        await sign_in(page, server, party)
        await page.goto(f"{server.http}{path}")
        await expect(page.locator(SWITCH)).to_have_attribute("aria-pressed", "true")

    await page.locator(SWITCH).click()  # off, for every page again
    await page.reload()
    await expect(page.locator(SWITCH)).to_have_attribute("aria-pressed", "false")


async def test_an_escalation_reaching_the_desk_rings_until_acknowledged(
    server: RunningServer,
    world: World,
    page: Page,
    context: BrowserContext,
    db: asyncpg.Connection,
    database: Database,
) -> None:
    await context.grant_permissions(["notifications"])
    await page.add_init_script(RECORD_NOTIFICATIONS)
    colleague = await make_contact_point(database, world, "DE", "Erika Colleague")
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        await sign_in(page, server, world.desk("DE"))
        created = await held_by_colleague(client, world, colleague)
    row = page.locator(f"#request-{created['id']}")
    await expect(row).to_contain_text("Erika Colleague", timeout=WAIT_MS)
    # Held by a colleague: nothing for this reader yet.
    await page.locator(SWITCH).click()
    await expect(page.locator(SWITCH)).to_have_attribute("aria-pressed", "true")
    assert await rings(page) == 0

    # The primary did not acknowledge: the step to the backup reaches the desk (nobody is
    # on duty), this reader included.
    await bring_due(db, created["id"], "ack")
    announced = page.locator(f"#alerting-{created['id']}")
    await expect(announced).to_be_visible(timeout=WAIT_MS)
    await expect(announced).to_have_attribute("data-reason", "escalated")
    await expect(announced).to_contain_text("Escalated to you: urgent request from FR")
    assert await page.evaluate("window.__notified") == ["Escalated to you: urgent request from FR"]
    # It rings again, and again, while nobody acknowledges.
    await page.wait_for_function("() => Number(document.body.dataset.rings) >= 3", timeout=20_000)
    await expect(page.locator("body")).to_have_attribute("data-repeating", "true")
    await expect(page.locator("body")).to_have_attribute("data-sound", "running")
    await screenshot(page, "alerting")
    # A reload does not stop it: the tab remembers what rings, and the list says it still waits.
    await page.reload()
    await expect(announced).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("body")).to_have_attribute("data-repeating", "true")
    await page.wait_for_function("() => Number(document.body.dataset.rings) >= 1", timeout=20_000)

    await row.get_by_role("button", name="Acknowledge").click()
    await expect(announced).to_be_hidden(timeout=WAIT_MS)
    await expect(page.locator("body")).to_have_attribute("data-alerting", "0")
    await expect(page.locator("body")).to_have_attribute("data-repeating", "false")


async def test_the_reader_silences_an_alert(
    server: RunningServer, world: World, page: Page
) -> None:
    await sign_in(page, server, world.desk("DE"))
    await page.locator(SWITCH).click()
    await expect(page.locator(SWITCH)).to_have_attribute("aria-pressed", "true")
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", priority="emergency")
    announced = page.locator(f"#alerting-{created['id']}")
    await expect(announced).to_have_attribute("data-reason", "assigned", timeout=WAIT_MS)
    await expect(announced).to_have_class("priority-emergency")
    await announced.get_by_role("button", name="Silence").click()
    await expect(announced).to_be_hidden()
    await expect(page.locator("body")).to_have_attribute("data-repeating", "false")


async def test_a_question_to_the_requesting_unit_rings_once_and_stays_listed(
    server: RunningServer, world: World, page: Page
) -> None:
    unit, desk = world.unit("FR"), world.desk("DE")
    await sign_in(page, server, unit)
    await page.locator(SWITCH).click()
    await expect(page.locator(SWITCH)).to_have_attribute("aria-pressed", "true")
    async with http(server.http) as client:
        request_id = (await submit_request(client, unit, "DE"))["id"]
        for action, body in (("acknowledge", None), ("start", None), ("request_info", WHY)):
            taken = await act(client, desk, request_id, action, body)
            assert taken.status_code == 200, taken.text
    announced = page.locator(f"#alerting-{request_id}")
    await expect(announced).to_have_attribute(
        "data-reason", "asked_for_information", timeout=WAIT_MS
    )
    await expect(announced).to_contain_text("DE asks for information on your urgent request")
    # Acknowledged long since: it rang once, and does not repeat.
    await expect(page.locator("body")).to_have_attribute("data-rings", "1")
    await expect(page.locator("body")).to_have_attribute("data-repeating", "false")


# --- the service worker -----------------------------------------------------------------------


async def service_worker(page: Page, context: BrowserContext) -> Worker:
    await page.wait_for_selector("body[data-worker='ready']", timeout=WAIT_MS)
    for worker in context.service_workers:
        if worker.url.endswith("/web/sw.js"):
            return worker
    found: Worker = await context.wait_for_event("serviceworker", timeout=WAIT_MS)
    return found


async def registration_id(cdp: CDPSession, scope: str) -> str:
    """The worker's registration, as the DevTools protocol names it to deliver a push."""
    seen: dict[str, str] = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: seen.update(
            {r["scopeURL"]: r["registrationId"] for r in event["registrations"]}
        ),
    )
    await cdp.send("ServiceWorker.enable")

    async def known() -> bool:
        return scope in seen

    await eventually(known, within=10)
    return seen[scope]


async def notifications(page: Page) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = await page.evaluate(
        """async () => {
          const registration = await navigator.serviceWorker.ready;
          return (await registration.getNotifications()).map((n) => ({
            title: n.title, body: n.body, tag: n.tag, data: n.data,
            requireInteraction: n.requireInteraction, actions: n.actions.map((a) => a.action),
          }));
        }"""
    )
    return shown


async def pusher(
    page: Page, context: BrowserContext, server: RunningServer
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """Delivers a push message to the page's service worker, as a push service would."""
    cdp = await context.new_cdp_session(page)
    registration = await registration_id(cdp, f"{server.http}/web/")

    async def push(payload: dict[str, Any]) -> None:
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": server.http, "registrationId": registration, "data": json.dumps(payload)},
        )

    return push


def ack_token(settings: Settings, message_id: uuid.UUID) -> str:
    """The one-time acknowledge token an alert carries (app/alerts/ack_links.py)."""
    # Imported here: the module comes with branch `alerts`, and only this test needs it.
    from app.alerts import ack_links

    secret = ServiceSecret(settings.outbox.secret_key_path(settings.database))
    return ack_links.token(secret, message_id)


async def test_the_service_worker_shows_a_push_and_acknowledges_from_its_action(
    server: RunningServer,
    world: World,
    page: Page,
    context: BrowserContext,
    db: asyncpg.Connection,
    settings: Settings,
) -> None:
    desk = world.desk("DE")
    await reachable(db, desk)  # so that the arrival writes an alert (and its ack link) for it
    await context.grant_permissions(["notifications"])
    await sign_in(page, server, desk)
    worker = await service_worker(page, context)
    scope = f"{server.http}/web/"
    assert await worker.evaluate("self.registration.scope") == scope

    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", priority="emergency")
    request_id = created["id"]
    message_id = await db.fetchval(
        "SELECT id FROM outbox_messages WHERE request_id = $1 AND principal_id = $2 "
        "AND route <> 'webhook' ORDER BY created_at LIMIT 1",
        uuid.UUID(request_id),
        desk.principal_id,
    )
    assert message_id is not None
    token = ack_token(settings, message_id)
    # The alert as the brief's contract words it, then its repeat as the Web Push courier
    # words it (app/alerts/push_payloads.py): the worker reads both.
    alert = {
        "title": "New emergency request from FR",
        "body": "preservation · TLP:AMBER",
        "priority": "emergency",
        "data": {
            "url": f"/web/requests/{request_id}",
            "ack_token": token,
            "request_id": request_id,
        },
    }
    repeat = {
        "kind": "alert",
        "request_id": request_id,
        "reason": "assigned",
        "priority": "emergency",
        "title": "New emergency request from FR",
        "body": "Assigned to you",
        "url": f"{server.http}/web/requests/{request_id}",
        "ack": token,
        "tag": request_id,
    }
    push = await pusher(page, context, server)
    await push(alert)
    await push(repeat)  # a repeat replaces it: one notification per request

    async def shown() -> bool:
        return len(await notifications(page)) > 0

    await eventually(shown, within=10)
    (notification,) = await notifications(page)
    assert notification["title"] == "New emergency request from FR"
    assert notification["tag"] == request_id
    assert notification["requireInteraction"] is True
    assert notification["actions"] == ["acknowledge"]
    assert notification["data"]["url"] == f"{server.http}/web/requests/{request_id}"

    # The person presses "Acknowledge": the worker acknowledges with no page of its own.
    await worker.evaluate(
        """async (tag) => {
          const [notification] = await self.registration.getNotifications({ tag });
          self.dispatchEvent(
            new NotificationEvent("notificationclick", { notification, action: "acknowledge" }),
          );
        }""",
        request_id,
    )

    async def acknowledged() -> bool:
        async with http(server.http) as client:
            answer = await client.get(f"/v1/requests/{request_id}", headers=desk.headers)
        return answer.json()["status"] == "acknowledged"

    await eventually(acknowledged, within=10)
    assert await db.fetchval(
        "SELECT acknowledged_by FROM requests WHERE id = $1", uuid.UUID(request_id)
    ) == (desk.principal_id)

    async def outcome() -> bool:
        return [n["title"] for n in await notifications(page)] == ["Acknowledged"]

    await eventually(outcome, within=10)

    # The service withdraws the request's alerts: its notifications close.
    await push({"withdraw": request_id})

    async def withdrawn() -> bool:
        return await notifications(page) == []

    await eventually(withdrawn, within=10)


# A browser's push subscription keys, well formed (an uncompressed P-256 point, 16 bytes).
PUSH_KEYS = {
    "p256dh": "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSn"
    "fckjBJuBkr3qBUYIHBQFLXYp5Nksh8U",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


async def test_the_service_worker_confirms_this_browsers_contact_method_from_its_push(
    server: RunningServer,
    world: World,
    page: Page,
    context: BrowserContext,
    db: asyncpg.Connection,
    settings: Settings,
) -> None:
    # Imported here: the module comes with branch `alerts`, and only this test needs it.
    from app.alerts.contacts import verification_code

    desk = world.desk("DE")
    await context.grant_permissions(["notifications"])
    await sign_in(page, server, desk)
    await service_worker(page, context)
    async with http(server.http) as client:
        added = await client.post(
            "/v1/me/contact-methods",
            json={"kind": "web_push", "address": "https://push.example.org/p/1", "keys": PUSH_KEYS},
            headers=desk.headers,
        )
    assert added.status_code == 201, added.text
    method_id = uuid.UUID(added.json()["id"])
    sent_at = await db.fetchval(
        "SELECT verification_sent_at FROM contact_methods WHERE id = $1", method_id
    )
    secret = ServiceSecret(settings.outbox.secret_key_path(settings.database))
    code = verification_code(secret, method_id, sent_at)

    push = await pusher(page, context, server)
    await push({"verify": code, "contact_method_id": str(method_id)})

    async def verified() -> bool:
        return bool(
            await db.fetchval("SELECT verified_at FROM contact_methods WHERE id = $1", method_id)
        )

    await eventually(verified, within=10)
    await page.goto(f"{server.http}/web/contacts")
    await expect(page.locator(f"#contact-{method_id}")).to_have_attribute("data-verified", "true")


async def test_contact_methods_are_added_verified_refused_and_deleted_on_their_page(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection, settings: Settings
) -> None:
    from app.alerts.contacts import verification_code  # with branch `alerts`

    await sign_in(page, server, world.desk("DE"))
    await page.get_by_role("link", name="Contact methods").click()
    await page.wait_for_selector("body[data-loaded='true']")
    await expect(page.locator("#contacts-empty")).to_be_visible()

    # A refusal is shown next to the form that caused it, in the service's words.
    # Longer than SMTP allows (254), though the browser's own check lets it through.
    too_long = "a" * 60 + "@" + ("b" * 60 + ".") * 4 + "example"
    await page.get_by_label("E-mail address", exact=True).fill(too_long)
    await page.get_by_role("button", name="Add e-mail").click()
    await expect(page.locator("#email-problem")).to_contain_text("e-mail address")
    await expect(page.locator("#problem")).to_be_hidden()

    await page.get_by_label("E-mail address", exact=True).fill("duty.officer@bka.example")
    await page.get_by_role("button", name="Add e-mail").click()
    await expect(page.locator("#email-problem")).to_be_hidden()
    listed = page.locator("#contact-rows tr")
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("duty.officer@bka.example")
    await expect(listed).to_contain_text("Waiting for its code")

    await page.get_by_label("Code", exact=True).fill("AAAA-AAAA")
    await page.get_by_role("button", name="Verify").click()
    await expect(page.locator("#verify-problem")).to_be_visible()
    row = await db.fetchrow("SELECT id, verification_sent_at FROM contact_methods")
    secret = ServiceSecret(settings.outbox.secret_key_path(settings.database))
    code = verification_code(secret, row["id"], row["verification_sent_at"])
    await page.get_by_label("Code", exact=True).fill(code)
    await page.get_by_role("button", name="Verify").click()
    await expect(listed).to_have_attribute("data-verified", "true")
    await expect(page.locator("#verify-problem")).to_be_hidden()
    await screenshot(page, "contacts")

    await listed.get_by_role("button", name="Delete").click()
    await expect(listed).to_have_count(0)
    assert await db.fetchval("SELECT count(*) FROM contact_methods") == 0


async def test_the_request_page_shows_who_was_alerted(
    server: RunningServer, world: World, page: Page, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    await reachable(db, desk)
    await sign_in(page, server, desk)
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE")
    await page.goto(f"{server.http}/web/requests/{created['id']}")
    await page.wait_for_selector("body[data-loaded='true']")
    alerted = page.locator("#alerted-rows tr")
    await expect(alerted).to_have_count(1)
    await expect(alerted).to_have_attribute("data-route", "email")
    await expect(alerted).to_contain_text("assigned")
    await expect(alerted).to_contain_text("not yet")  # the sender is off: it waits
    await expect(page.locator("#alerted-empty")).to_be_hidden()


# --- one rule, on both sides --------------------------------------------------------------------


FINAL_OR_NOT = ("closed", "declined", "cancelled", "in_progress", "responded")


def _matches(recipient: rules.Recipient, reader: Party) -> bool:
    """Who a recipient stands for, as the fan-out's query expands it (app/outbox/fanout.py)."""
    if recipient.principal_id is not None:
        return recipient.principal_id == reader.principal_id
    if recipient.agency_id is not None:
        return recipient.agency_id == reader.agency_id
    return recipient.role == reader.role and recipient.country in (None, reader.country)


def _cases(world: World) -> list[tuple[str, dict[str, Any]]]:
    desk = world.desk("DE")
    base = {
        "request_id": str(uuid.uuid4()),
        "priority": "urgent",
        "status": "submitted",
        "requesting_country": "FR",
        "requesting_agency_id": str(world.unit("FR").agency_id),
        "target_country": "DE",
    }
    cases: list[tuple[str, dict[str, Any]]] = []
    for event in ("request.assigned", "request.escalated"):
        cases.append((event, {**base, "assigned_to": str(desk.principal_id)}))
        cases.append((event, {**base, "assigned_to": str(uuid.uuid4())}))
        for target in ("on_duty_primary", "on_duty_backup", "ncb", "global_desk"):
            cases.append((event, {**base, "assigned_to": None, "target": target}))
        cases.append((event, {**base, "assigned_to": None}))
    cases += [
        ("request.overdue", {**base, "reminder": 0}),
        ("request.overdue", {**base, "reminder": 2}),
        ("request.updated", {**base, "action": "request_info"}),
        ("request.updated", {**base, "action": "respond"}),
        ("request.updated", {**base, "action": "start"}),
        ("request.updated", {**base, "action": "toString"}),
        ("request.acknowledged", base),
        ("message.created", base),
    ]
    return cases


async def test_the_pages_rule_is_the_servers(
    server: RunningServer, world: World, page: Page
) -> None:
    readers = [
        world.desk("DE"),
        world("DE", Role.NCB),
        world.gs,
        world.unit("FR"),
        world.desk("FR"),
        world("FR", Role.NCB),
    ]
    cases = _cases(world)
    await sign_in(page, server, world.desk("DE"))
    for reader in readers:
        expected = []
        for event, data in cases:
            alerted = [r for r in rules.recipients(event, data) if _matches(r, reader)]
            expected.append(alerted[0].reason if alerted else None)
        found = await page.evaluate(
            """async ([cases, reader]) => {
              const { reasonFor } = await import("/web/static/js/alert-rules.js");
              return cases.map(([event, data]) => reasonFor(event, data, reader));
            }""",
            [
                cases,
                {
                    "principalId": str(reader.principal_id),
                    "agencyId": str(reader.agency_id),
                    "role": reader.role.value,
                    "country": reader.country,
                },
            ],
        )
        assert found == expected, reader.role
    cases += [("request.updated", {"status": status}) for status in FINAL_OR_NOT]
    ends = [rules.ends_alerts(event, data) for event, data in cases]
    found_ends = await page.evaluate(
        """async (cases) => {
          const { endsAlerts } = await import("/web/static/js/alert-rules.js");
          return cases.map(([event, data]) => endsAlerts(event, data));
        }""",
        cases,
    )
    assert found_ends == ends
