"""Finding and launching the machine's Chromium for Playwright (no browser is downloaded):
shared by the dashboard's browser tests (tests/browser/conftest.py) and its benchmark."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Chromium as root in a container, with no calls home (a closed network refuses them).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO_GET_CHROMIUM = (
    "the dashboard's browser tests and benchmark need Chromium: `sudo apt-get install "
    "chromium` (Debian, Ubuntu), or set RELAY247_CHROMIUM to a Chromium or Chrome executable"
)


def chromium_executable() -> str | None:
    named = os.environ.get("RELAY247_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None
