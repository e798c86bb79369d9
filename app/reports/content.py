"""What a report says, read under the visibility of its scope: the network's as the global
desk sees it, a country's as that country's NCB does (the requests it sent or received, its
own desk's drills, the shared data its members read). Nothing else decides what a report may
hold: every figure comes from the same public functions the API answers with
(app/analytics/aggregates.py, app/drills/outcomes.py, app/sharing/visibility.py), called as a
reader standing for the scope, whoever asked for the report.

Volumes count every request submitted in the period that the reader sees, open or final (a
monthly report made on the 1st would otherwise miss the month's requests still being worked).
Response figures are the response analytics' (final requests, counted by the UTC day they were
submitted, drills left out by the rollup); drills have their own section."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.analytics import aggregates
from app.analytics.schemas import Dimension, GroupOut, Period
from app.drills import outcomes as drills
from app.drills.schemas import DeskResults
from app.drills.statistics import real_requests
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest, RequestMatch, table_of
from app.models.enums import AgencyKind, CollectionKind, Role
from app.reports import periods
from app.reports.schemas import NETWORK, ReportKind
from app.requests.lifecycle import FINAL
from app.sharing.visibility import (
    collections,
    matches_readable_by,
    objects,
    readable_objects,
)

_NOBODY = uuid.UUID(int=0)
_matches = table_of(RequestMatch)
_requests = table_of(CooperationRequest)


def reader_for(scope: str) -> Actor:
    """Who a report of ``scope`` is read as: the global desk for the network, the country's
    NCB for a country. A stand-in of no agency: a country's report shows what every member
    of the country reads, not one agency's own stricter data."""
    if scope == NETWORK:
        return Actor(_NOBODY, _NOBODY, _NOBODY, "ZZ", Role.GS, "relay247 reports", AgencyKind.GS)
    return Actor(_NOBODY, _NOBODY, _NOBODY, scope, Role.NCB, "relay247 reports", AgencyKind.NCB)


@dataclass(frozen=True, slots=True)
class Submitted:
    """Requests submitted in the period with these keys, and how many of them are still open
    (not closed, declined or cancelled) when the report is made."""

    target_country: str
    requesting_country: str
    type: str
    priority: str
    count: int
    open: int


def submitted_by(rows: list[Submitted], *keys: str) -> list[tuple[tuple[str, ...], int, int]]:
    """``rows`` summed by ``keys`` (attribute names), busiest first: (key values, count,
    open)."""
    sums: dict[tuple[str, ...], list[int]] = {}
    for row in rows:
        both = sums.setdefault(tuple(getattr(row, key) for key in keys), [0, 0])
        both[0] += row.count
        both[1] += row.open
    return sorted(
        ((key, count, still) for key, (count, still) in sums.items()),
        key=lambda item: (-item[1], item[0]),
    )


@dataclass(frozen=True, slots=True)
class CollectionCount:
    kind: str
    title: str
    count: int


@dataclass(slots=True)
class Content:
    scope: str
    kind: ReportKind
    start: datetime
    end: datetime
    trend_period: Period
    submitted: list[Submitted] = field(default_factory=list)
    previous_submitted: int = 0
    totals: GroupOut | None = None
    previous_count: int = 0
    by_type: list[GroupOut] = field(default_factory=list)
    by_priority: list[GroupOut] = field(default_factory=list)
    by_pair: list[GroupOut] = field(default_factory=list)
    by_target: list[GroupOut] = field(default_factory=list)
    trend: list[GroupOut] = field(default_factory=list)
    drills: list[DeskResults] = field(default_factory=list)
    shared: list[CollectionCount] = field(default_factory=list)
    matched: list[CollectionCount] = field(default_factory=list)


def trend_period(start: date, end: date) -> Period:
    """Bars a person can read: days up to two months, weeks beyond."""
    return Period.DAY if end - start <= timedelta(days=62) else Period.WEEK


def _seen_submitted(reader: Actor, start: datetime, end: datetime) -> ColumnElement[bool]:
    r = _requests.c
    return and_(
        policy.where(reader, policy.Action.READ_REQUEST, CooperationRequest),
        real_requests(),
        r.created_at >= start,
        r.created_at < end,
    )


def submitted_statement(reader: Actor, start: datetime, end: datetime) -> Select[Any]:
    """The requests submitted in [start, end) that ``reader`` sees, by country pair, type and
    priority: how many, and how many still open."""
    r = _requests.c
    keys = (r.target_country, r.requesting_country, r.type, r.priority)
    still_open = func.count().filter(r.status.not_in([status.value for status in FINAL]))
    return (
        select(*keys, func.count(), still_open)
        .where(_seen_submitted(reader, start, end))
        .group_by(*keys)
        .order_by(*keys)
    )


async def _submitted(
    session: AsyncSession, reader: Actor, start: datetime, end: datetime
) -> list[Submitted]:
    rows = await session.execute(submitted_statement(reader, start, end))
    return [
        Submitted(target, requesting, str(kind), str(priority), count, still)
        for target, requesting, kind, priority, count, still in rows
    ]


async def _submitted_count(
    session: AsyncSession, reader: Actor, start: datetime, end: datetime
) -> int:
    found = await session.scalar(
        select(func.count()).select_from(_requests).where(_seen_submitted(reader, start, end))
    )
    return int(found or 0)


async def _shared(
    session: AsyncSession, reader: Actor, start: datetime, end: datetime
) -> list[CollectionCount]:
    """Objects added in the period to the collections the reader reads (the quarantine is not
    shared data), at the codes it reads."""
    c, o = collections.c, objects.c
    rows = await session.execute(
        select(c.kind, c.title, func.count())
        .select_from(objects.join(collections, c.id == o.collection_id))
        .where(
            readable_objects(reader),
            c.kind != CollectionKind.INBOX,
            o.date_added >= start,
            o.date_added < end,
        )
        .group_by(c.kind, c.title)
        .order_by(c.title, c.kind)
    )
    return [CollectionCount(str(kind), title, count) for kind, title, count in rows]


async def _matched(
    session: AsyncSession, reader: Actor, start: datetime, end: datetime
) -> list[CollectionCount]:
    """Matches found in the period between the real requests the reader sees and the stored
    objects it may be shown, by the object's collection."""
    c, o, m, r = collections.c, objects.c, _matches.c, _requests.c
    joined = (
        _matches.join(objects, o.row_id == m.object_row_id)
        .join(collections, c.id == o.collection_id)
        .join(_requests, r.id == m.request_id)
    )
    rows = await session.execute(
        select(c.kind, c.title, func.count())
        .select_from(joined)
        .where(
            and_(
                policy.where(reader, policy.Action.READ_REQUEST, CooperationRequest),
                real_requests(),
                matches_readable_by(reader),
                m.found_at >= start,
                m.found_at < end,
            )
        )
        .group_by(c.kind, c.title)
        .order_by(c.title, c.kind)
    )
    return [CollectionCount(str(kind), title, count) for kind, title, count in rows]


def queries(start_day: date, end_day: date) -> dict[str, aggregates.Query]:
    """The aggregates a report over [start_day, end_day) asks, by the section they fill
    (bench/reports.py times their bare statements as the generation's floor)."""
    start, end = periods.midnight(start_day), periods.midnight(end_day)
    before = [periods.midnight(day) for day in periods.previous(start_day, end_day)]
    by = Dimension
    return {
        "totals": aggregates.Query([], start=start, end=end),
        "previous": aggregates.Query([], start=before[0], end=before[1]),
        "by_type": aggregates.Query([by.TYPE], start=start, end=end),
        "by_priority": aggregates.Query([by.PRIORITY], start=start, end=end),
        "by_pair": aggregates.Query(
            [by.TARGET_COUNTRY, by.REQUESTING_COUNTRY], start=start, end=end
        ),
        "by_target": aggregates.Query([by.TARGET_COUNTRY], start=start, end=end),
        "trend": aggregates.Query(
            [by.PERIOD], period=trend_period(start_day, end_day), start=start, end=end
        ),
    }


async def gather(
    session: AsyncSession, scope: str, kind: ReportKind, start_day: date, end_day: date
) -> Content:
    """Everything the report of ``scope`` over [start_day, end_day) shows."""
    reader = reader_for(scope)
    asked = {
        name: (await aggregates.aggregate(session, reader, query)).groups
        for name, query in queries(start_day, end_day).items()
    }
    start, end = periods.midnight(start_day), periods.midnight(end_day)
    content = Content(scope, kind, start, end, trend_period(start_day, end_day))
    # A query without keys gives its one row, of zeros over nothing.
    content.totals = asked["totals"][0] if asked["totals"] else None
    content.previous_count = asked["previous"][0].count if asked["previous"] else 0
    content.by_type = asked["by_type"]
    content.by_priority = asked["by_priority"]
    content.by_pair = asked["by_pair"]
    content.by_target = asked["by_target"]
    content.trend = asked["trend"]
    country = None if scope == NETWORK else scope
    content.submitted = await _submitted(session, reader, start, end)
    before = [periods.midnight(day) for day in periods.previous(start_day, end_day)]
    content.previous_submitted = await _submitted_count(session, reader, before[0], before[1])
    content.drills = (
        await drills.results(session, reader, country=country, since=start, until=end)
    ).items
    content.shared = await _shared(session, reader, start, end)
    content.matched = await _matched(session, reader, start, end)
    return content
