"""What every page must hold to, whoever reads it and in either theme: axe-core finds no
WCAG 2.2 AA violation (contrast included), and the page logs no error, throws nothing and has
nothing refused by its Content-Security-Policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import ConsoleMessage, Error, Page

Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")

# Every WCAG rule axe-core has up to 2.2 AA, and its best practices; no rule is disabled.
_AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
}
_axe = Axe()

# The page reports each refusal of its policy to the console, where PageWatch hears it: the
# listener is Playwright's, run before the page's own scripts, so the CSP does not apply to it.
_REPORT_CSP_REFUSALS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP refused ${event.violatedDirective}: ${event.blockedURI || "inline"}`);
});
"""


@dataclass
class PageWatch:
    """Everything a page got wrong since watch() began: console errors (a CSP refusal is one,
    reported twice: by Chromium and by the securitypolicyviolation event), uncaught errors.
    An answer the API refused is the page's to show, not an error of the page's."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(f"{message.location.get('url', '')}: {message.text}")

    def on_error(self, error: Error) -> None:
        self.errors.append(str(error))


async def watch(page: Page) -> PageWatch:
    watched = PageWatch()
    await page.add_init_script(_REPORT_CSP_REFUSALS)
    page.on("console", watched.on_console)
    page.on("pageerror", watched.on_error)
    return watched


async def use_system_theme(page: Page, theme: Theme) -> None:
    """Make the system's setting (prefers-color-scheme) ``theme``; the pages follow it while
    the reader has chosen "System", which is where they start."""
    await page.emulate_media(color_scheme=theme)


async def accessibility_violations(page: Page) -> list[str]:
    """axe-core's violations on the page as it stands, one line each: the rule, what it is
    about, and the elements that break it."""
    results = await _axe.run(page, options=_AXE_OPTIONS)
    assert results.response["passes"], "axe-core checked nothing on the page"
    found: list[str] = []
    for violation in results.response["violations"]:
        targets = [
            f"{node['target']} {node.get('failureSummary', '')}".replace("\n", " ")
            for node in violation["nodes"]
        ]
        found.append(f"{violation['id']} ({violation['help']}): {targets}")
    return found


async def shown_theme(page: Page) -> str | None:
    return await page.evaluate("document.documentElement.dataset.theme ?? null")
