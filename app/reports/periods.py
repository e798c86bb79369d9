"""The periods reports cover: whole UTC days, ISO weeks and calendar months, and what an
on-demand period may be."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.core.errors import InvalidInputError
from app.reports.schemas import ReportKind

# Nothing of the network is older; a report of earlier days would be empty by construction.
EARLIEST = date(2000, 1, 1)
# Longer than a year reads more than anyone reads in one PDF: ask for several.
LONGEST = timedelta(days=366)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def week_of(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def month_of(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


def last_complete(kind: ReportKind, today: date) -> tuple[date, date]:
    """The latest week or month that ended on or before ``today`` (UTC)."""
    if kind is ReportKind.WEEKLY:
        return week_of(today - timedelta(days=7))
    if kind is ReportKind.MONTHLY:
        return month_of(today.replace(day=1) - timedelta(days=1))
    raise ValueError(f"{kind} has no periods")


def previous(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before [start, end): what a trend compares with.
    A month is compared with the month before it."""
    if start.day == 1 and end.day == 1 and month_of(start) == (start, end):
        return month_of(start - timedelta(days=1))
    return start - (end - start), start


def check_on_demand(start: date, end: date, today: date) -> None:
    """A 422 naming the field for a period no report can cover."""
    if start < EARLIEST:
        raise InvalidInputError(f"must be {EARLIEST.isoformat()} or later", field="from")
    if end <= start:
        raise InvalidInputError("must be after `from`", field="to")
    if end > today + timedelta(days=1):
        raise InvalidInputError(
            "must be at most tomorrow (UTC): a report covers days that have begun", field="to"
        )
    if end - start > LONGEST:
        raise InvalidInputError("a report covers at most 366 days: ask for several", field="to")
