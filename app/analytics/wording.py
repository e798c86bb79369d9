"""How a figure of the analytics reads to a person, on the page and in a report alike."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """A time for a person: 45 s, 12 min, 3.5 h, 2.1 d."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"
