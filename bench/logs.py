"""What the servers logged: errors a client may never see (a 500 that comes after the client
has given up, an exception in a background task) are counted in the report."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

# A record's level: "ERROR: ..." (uvicorn's bare format) or "2026-11-23 00:32:35,589 ERROR
# app.core.supervisor ..." (the service's text format, a timestamp first).
_LEVEL = re.compile(r"^(?:\d{4}-\d\d-\d\d \S+ +)?(ERROR|WARNING|CRITICAL)\b")
# The last line of a traceback: "sqlalchemy.exc.TimeoutError: QueuePool limit ...".
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exit))(?::|$)")


def scan(path: Path) -> dict[str, Any]:
    """Count ERROR and WARNING lines, and exceptions by type (a chained traceback names its
    exception more than once)."""
    counts: Counter[str] = Counter()
    exceptions: Counter[str] = Counter()
    try:
        with path.open(errors="replace") as log:
            for line in log:
                if level := _LEVEL.match(line):
                    counts[level.group(1)] += 1
                elif match := _EXCEPTION.match(line):
                    exceptions[match.group(1)] += 1
    except OSError:
        return {"readable": False}
    return {
        "errors": counts["ERROR"] + counts["CRITICAL"],
        "warnings": counts["WARNING"],
        "exception_lines": dict(exceptions.most_common(10)),
    }


def scan_all(paths: list[Path]) -> dict[str, Any]:
    return {path.name: scan(path) for path in paths}
