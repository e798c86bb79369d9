"""Memory per idle socket: the resident memory of ``relay247 serve`` before and after
``sockets`` authenticated dashboards connect and sit idle.

The dashboards are spread over the six countries' desks (like the latency test's), each
sends an empty ``resume`` and waits for its welcome. VmRSS is read from ``/proc`` once the
server has settled, before and with the sockets open, and again after they have closed (what
the server keeps: allocator arenas and caches, or a leak). Runs after the latency test, so
the server has already served sockets and requests and one-time costs are behind it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.proc import rss_kib
from bench.progress import progress
from bench.sockets import opened
from bench.stack import Server
from bench.workload import Credentials, dashboard_plan

SETTLE_S = 1.0


async def _settled_rss(pid: int) -> int | None:
    await asyncio.sleep(SETTLE_S)
    return rss_kib(pid)


async def run_memory(server: Server, credentials: Credentials, *, sockets: int) -> dict[str, Any]:
    """Return the ``memory`` section of the report."""
    tokens = [token for _, token in dashboard_plan(credentials, sockets)]
    before = await _settled_rss(server.pid)
    async with opened(server.ws_url, tokens) as idle:
        with_sockets = await _settled_rss(server.pid)
    after_close = await _settled_rss(server.pid)
    if before is None or with_sockets is None:
        progress("memory: /proc/<pid>/status unreadable; no figure")
        per_socket = None
    else:
        per_socket = round((with_sockets - before) / sockets, 2)
        progress(f"memory: {per_socket} KiB per idle socket over {sockets} sockets")
    return {
        "sockets": sockets,
        **idle.as_json(),
        "rss_before_kib": before,
        "rss_with_sockets_kib": with_sockets,
        "rss_after_close_kib": after_close,
        "kib_per_socket": per_socket,
        "measured": "VmRSS of relay247 serve and its workers, from /proc/<pid>/status",
    }
