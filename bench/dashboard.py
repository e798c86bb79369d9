"""The dashboard page: from POST to the request being in the browser's DOM, beside the
WebSocket push latency of the same requests measured in the same run.

A duty officer signs in to /web/ in Chromium (Playwright, the machine's browser); a plain
WebSocket client of the same officer listens beside it. ``requests`` POSTs to the officer's
desk, one after another with ``gap_s`` between them. For each: the time from just before its
POST to (a) the raw socket's ``request.assigned`` frame and (b) its row being inserted in the
page's queue (a MutationObserver in the page notes the time). Both clocks are this machine's
wall clock (``time.time()`` and the page's ``performance.timeOrigin + performance.now()``).
The raw socket is the floor: ``ratio`` is the DOM's p50 over the push's p50. The queue grows
to ``requests`` rows, as a desk's screen does, and re-renders on every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.chromium import HOW_TO_GET_CHROMIUM, LAUNCH_ARGS, chromium_executable
from bench.progress import progress
from bench.sockets import open_dashboard
from bench.stack import Server
from bench.stats import summarize_ms
from bench.workload import Credentials, request_body

# Installed in the page once it is live: the wall-clock time each queue row first appears.
_OBSERVE_ROWS = """
() => {
  window.__relay247Seen = {};
  const rows = document.getElementById("queue-rows");
  new MutationObserver((mutations) => {
    const now = performance.timeOrigin + performance.now();
    for (const mutation of mutations) {
      for (const node of mutation.addedNodes) {
        const id = node.dataset && node.dataset.requestId;
        if (id && !(id in window.__relay247Seen)) window.__relay247Seen[id] = now;
      }
    }
  }).observe(rows, { childList: true });
}
"""


async def _listen(connection: ClientConnection, pushes: dict[str, float]) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in connection:
            received = time.time()
            frame = json.loads(message)
            if frame.get("type") == "event" and frame.get("event") == "request.assigned":
                pushes.setdefault(frame["data"]["request_id"], received)


async def run_dashboard(
    server: Server,
    client: httpx.AsyncClient,
    credentials: Credentials,
    *,
    requests: int,
    gap_s: float,
    timeout_s: float,
) -> dict[str, Any]:
    executable = chromium_executable()
    if executable is None:
        return {"skipped": HOW_TO_GET_CHROMIUM}
    from playwright.async_api import async_playwright  # a dev dependency, like the tests

    target, sender = credentials.countries[0], credentials.countries[1]
    officer = credentials.desks[target][0]
    posted: dict[str, float] = {}
    pushes: dict[str, float] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{server.url}/web/sign-in#token={officer}")
            # A sign-in link asks whose session it opens; the click signs in.
            await page.get_by_role("button", name="Sign in as").click(timeout=30_000)
            await page.wait_for_selector(
                "body[data-loaded='true'][data-connection='live']", timeout=30_000
            )
            await page.evaluate(_OBSERVE_ROWS)
            socket = await open_dashboard(server.ws_url, officer)
            listener = asyncio.create_task(_listen(socket, pushes))
            try:
                progress(f"dashboard: {requests} requests, POST to the page's DOM")
                for index in range(requests):
                    started = time.time()
                    answer = await client.post(
                        "/v1/requests",
                        json=request_body(target, index),
                        headers={"Authorization": f"Bearer {credentials.units[sender]}"},
                    )
                    answer.raise_for_status()
                    posted[answer.json()["id"]] = started
                    await asyncio.sleep(gap_s)
                deadline = time.monotonic() + timeout_s
                seen: dict[str, float] = {}
                while time.monotonic() < deadline:
                    seen = await page.evaluate("() => window.__relay247Seen")
                    if len(seen) >= len(posted) and len(pushes) >= len(posted):
                        break
                    await asyncio.sleep(0.2)
                rows = await page.locator("#queue-rows tr").count()
            finally:
                listener.cancel()
                await socket.close()
        finally:
            await browser.close()
    dom = [seen[rid] / 1000 - at for rid, at in posted.items() if rid in seen]
    push = [pushes[rid] - at for rid, at in posted.items() if rid in pushes]
    dom_ms, push_ms = summarize_ms(dom), summarize_ms(push)
    return {
        "requests": requests,
        "gap_s": gap_s,
        "dom_ms": dom_ms,
        "push_ms": push_ms,
        "missing_in_dom": len(posted) - len(dom),
        "missing_pushes": len(posted) - len(push),
        "rows_at_end": rows,
        "ratio_dom_to_push_p50": (
            round(dom_ms["p50"] / push_ms["p50"], 2) if dom_ms["p50"] and push_ms["p50"] else None
        ),
        "what": "POST to the row in the page's DOM (MutationObserver), and to a raw socket's "
        "request.assigned frame, same requests, same officer",
    }
