"""Evidence a browser could run (HTML, SVG, XML) runs nothing at the API's origin, even in a
browser that would show it rather than save it: opened with a session cookie at hand, no
script of it executes."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from playwright.async_api import Dialog, Error, Page, Route

from tests.browser import sign_in
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World
from tests.test_files_api import ACTIVE, SNIFFED, uploaded


def shown_not_saved(original_type: str | None) -> Callable[[Route], Awaitable[None]]:
    """A route handler that drops `Content-Disposition: attachment` (what a careless viewer or
    a link opened 'in the browser' does) and, with ``original_type``, puts the file's own
    type back: only the sandbox is then left between the file and the origin."""

    async def handle(route: Route) -> None:
        response = await route.fetch()
        headers = {k: v for k, v in response.headers.items() if k != "content-disposition"}
        if original_type is not None:
            headers["content-type"] = original_type
        await route.fulfill(response=response, headers=headers)

    return handle


async def test_an_uploaded_page_runs_no_script_at_the_api_origin(
    server: RunningServer, world: World, page: Page
) -> None:
    await sign_in(page, server, world.desk("DE"))
    ran: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        ran.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    async with http(server.http) as client:
        files = {}
        for name in ACTIVE:
            request = await submit_request(client, world.unit("FR"), "DE")
            files[name] = await uploaded(
                client, world.unit("FR"), request["id"], ACTIVE[name], name=name
            )
    for name, file in files.items():
        for restored in (None, SNIFFED[name]):
            url = f"{server.http}/v1/files/{file['id']}/content"
            await page.route(url, shown_not_saved(restored))
            # Opaque bytes are saved (Playwright reports a download as a failed navigation);
            # a document shown has run its script by its load event, which goto waits for.
            with contextlib.suppress(Error):
                await page.goto(url)
            await page.unroute(url)
            assert ran == [], (name, restored)
