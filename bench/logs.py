"""What the servers logged: errors a client may never see (a 500 that comes after the client
has given up, an exception in a background task) are counted in the report."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

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
                level = line.split(":", 1)[0]
                if level in ("ERROR", "WARNING", "CRITICAL"):
                    counts[level] += 1
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
