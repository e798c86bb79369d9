"""Every page, as each role reads it, in the light and the dark theme, in a real browser
against a real server: axe-core finds no WCAG 2.2 AA violation (contrast included), and no
page logs an error or has anything refused by its CSP. The theme follows the system until the
reader chooses one in the header, which is kept and applied before the first paint."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, expect

from app.core.database import Database
from app.models.enums import Role
from tests.browser import follow_sign_in_link, screenshot, sign_in
from tests.browser.a11y import (
    THEMES,
    PageWatch,
    accessibility_violations,
    shown_theme,
    use_system_theme,
    watch,
)
from tests.clients import http, submit_request
from tests.conftest import RunningServer, running_server
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World, make_national_auditor
from tests.outage import stoppable_world
from tests.test_escalation import use_policy

WAIT_MS = 10_000
pytestmark = pytest.mark.slow


async def visit_in_both_themes(
    page: Page, server: RunningServer, path: str, watched: PageWatch, *, loaded: bool = True
) -> list[str]:
    """Open ``path`` in each theme (left to the system), once it has read its data; what axe
    finds and what the page logged as errors."""
    problems: list[str] = []
    for theme in THEMES:
        await use_system_theme(page, theme)
        await page.goto(f"{server.http}{path}")
        if loaded:
            await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
        assert await shown_theme(page) == theme
        problems += [f"{path} ({theme}): {v}" for v in await accessibility_violations(page)]
    problems += [f"{path}: {error}" for error in watched.errors]
    watched.errors.clear()
    return problems


async def signed_in_as(page: Page, server: RunningServer, party: Party) -> None:
    await follow_sign_in_link(page, server, party)
    await page.wait_for_url(lambda url: "/web/" in url and "/sign-in" not in url)


async def test_every_page_passes_axe_and_logs_no_error_in_both_themes(
    server: RunningServer, world: World, page: Page, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)  # DE's desk
        late = await submit_request(
            client, world.unit("FR"), "DE", priority="emergency", headline="DDoS on a bank"
        )
        routine = await submit_request(client, world.unit("FR"), "DE", priority="routine")
    await bring_due(db, late["id"], "ack")  # escalated: the network lists it
    watched = await watch(page)
    problems: list[str] = []

    # Signed out: the sign-in page, and an acknowledge link's page (here, one that is unknown).
    problems += await visit_in_both_themes(page, server, "/web/sign-in", watched, loaded=False)
    problems += await visit_in_both_themes(page, server, "/ack/not-a-link", watched, loaded=False)

    request_page = f"/web/requests/{routine['id']}"
    pages_of: list[tuple[Party, list[str]]] = [
        (
            world.desk("DE"),
            [
                "/web/",
                request_page,
                "/web/contacts",
                "/web/roster",
                "/web/network",
                "/web/requests",
            ],
        ),
        (world.unit("FR"), ["/web/", request_page, "/web/requests?status=submitted"]),
        (
            world("DE", Role.NCB),
            ["/web/", "/web/roster", "/web/escalation", "/web/agreements", request_page],
        ),
        (
            world.gs,
            [
                "/web/",
                "/web/network",
                "/web/escalation?country=DE",
                request_page,
                "/web/requests?q=ddos",
            ],
        ),
        (world.auditor, ["/web/audit", "/web/requests"]),
        (await make_national_auditor(database, world, "DE"), ["/web/audit"]),
    ]
    for party, paths in pages_of:
        await signed_in_as(page, server, party)
        for path in paths:
            problems += await visit_in_both_themes(page, server, path, watched)
    assert problems == []


async def test_the_chosen_theme_is_kept_and_applied_before_the_first_paint(
    server: RunningServer, world: World, page: Page
) -> None:
    watched = await watch(page)
    # The theme the page has when its body first appears, before any paint.
    await page.add_init_script(
        """
        new MutationObserver((changes, observer) => {
          if (!document.body) return;
          window.__themeAtBody = document.documentElement.dataset.theme ?? null;
          observer.disconnect();
        }).observe(document, { childList: true, subtree: true });
        """
    )
    await use_system_theme(page, "light")
    await signed_in_as(page, server, world.desk("DE"))
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    choice = page.get_by_label("Theme")
    await expect(choice).to_have_value("system")
    assert await shown_theme(page) == "light"

    await choice.select_option("dark")
    assert await shown_theme(page) == "dark"
    await page.reload()
    await page.wait_for_selector("body[data-loaded='true']", timeout=WAIT_MS)
    assert await page.evaluate("window.__themeAtBody") == "dark"
    await expect(page.get_by_label("Theme")).to_have_value("dark")
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgba(0, 0, 0, 0)"  # the page's paper is the root's
    paper = await page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert paper == "rgb(15, 20, 25)"  # --paper of the dark set

    # Chosen, it no longer follows the system; "System" follows it again, live.
    await use_system_theme(page, "light")
    assert await shown_theme(page) == "dark"
    await page.get_by_label("Theme").select_option("system")
    assert await shown_theme(page) == "light"
    await use_system_theme(page, "dark")
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert await page.evaluate("localStorage.getItem('relay247.theme')") == "system"
    assert watched.errors == []


async def test_dark_screens_of_the_queue_and_a_request(
    server: RunningServer, world: World, page: Page
) -> None:
    async with http(server.http) as client:
        await submit_request(
            client,
            world.unit("FR"),
            "DE",
            priority="emergency",
            headline="Ransomware on a hospital: preserve the negotiation mailbox",
        )
        created = await submit_request(
            client,
            world.unit("FR"),
            "DE",
            priority="urgent",
            headline="Phishing kit hosting: who runs the server",
        )
    await use_system_theme(page, "dark")
    await signed_in_as(page, server, world.desk("DE"))
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")
    await expect(page.locator("#queue-rows tr")).to_have_count(2)
    await screenshot(page, "queue-dark")
    await page.goto(f"{server.http}/web/requests/{created['id']}")
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")
    await screenshot(page, "request-dark")


async def focused(page: Page) -> dict[str, str]:
    """The focused element's name and how its focus is drawn."""
    drawn: dict[str, str] = await page.evaluate(
        """() => {
          const node = document.activeElement;
          const style = getComputedStyle(node);
          return { tag: node.tagName, text: node.textContent.trim(),
                   outline: style.outlineStyle, width: style.outlineWidth };
        }"""
    )
    return drawn


async def tab_to(page: Page, tag: str, text: str, *, limit: int = 40) -> dict[str, str]:
    """Press Tab until the element ``tag`` named ``text`` has the focus; its focus ring."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        now = await focused(page)
        if now["tag"] == tag and now["text"] == text:
            return now
    raise AssertionError(f"{tag} {text!r} is not reachable by Tab")


async def test_a_request_is_acknowledged_and_opened_by_keyboard_alone_in_the_dark(
    server: RunningServer, world: World, page: Page
) -> None:
    watched = await watch(page)
    await use_system_theme(page, "dark")
    await signed_in_as(page, server, world.desk("DE"))
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", priority="emergency")
    row = page.locator(f"#request-{created['id']}")
    await row.wait_for(timeout=WAIT_MS)

    # The skip link first, then on through the header to the row's button: each focus drawn.
    skip = await tab_to(page, "A", "Skip to content")
    assert skip["outline"] == "solid"
    button = await tab_to(page, "BUTTON", "Acknowledge")
    assert button["outline"] == "solid"
    assert button["width"] == "3px"
    await page.keyboard.press("Enter")
    await expect(row).to_contain_text("acknowledged", timeout=WAIT_MS)

    # The button is gone with the acknowledgement; the keyboard stays on the row, on its link
    # (its type), which opens the request.
    await expect(row.locator("a").first).to_be_focused(timeout=WAIT_MS)
    link = await focused(page)
    assert link["text"] == "preservation"
    assert link["outline"] == "solid"
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{server.http}/web/requests/{created['id']}")
    await page.wait_for_selector("body[data-loaded='true'][data-connection='live']")
    start = await tab_to(page, "BUTTON", "Start work")
    assert start["outline"] == "solid"
    await page.keyboard.press("Enter")
    await expect(page.locator("#request-status")).to_have_text("in progress", timeout=WAIT_MS)
    assert watched.errors == []


async def test_the_outage_page_passes_axe_and_opens_the_queue_by_itself_once_back(
    page: Page, tmp_path: Path
) -> None:
    """The page a person gets while the database is down: accessible in both themes (no
    timed refresh under the reader: it asks in the background), and it turns into the queue
    by itself once the database answers again."""
    watched = await watch(page)
    async with (
        stoppable_world(tmp_path / "outage") as (postgres, world),
        running_server(postgres.url) as server,
    ):
        await sign_in(page, server, world.desk("DE"))
        await postgres.stop()
        problems = await visit_in_both_themes(page, server, "/web/", watched, loaded=False)
        assert await page.get_attribute("body", "data-page") == "unavailable"
        assert problems == []
        await expect(page.locator("#retry-status")).to_contain_text(
            "Still unavailable", timeout=WAIT_MS
        )

        await postgres.start()
        await page.wait_for_selector(
            "body[data-page='queue'][data-loaded='true'][data-connection='live']", timeout=30_000
        )
        assert watched.errors == []
        await page.goto("about:blank")  # before the server stops under the page's socket
