"""Aggregates of request outcomes, grouped as the caller asks, over the requests it may see.

They read the rollup only (app/analytics/rollup.py: counts and duration histograms per UTC
day and cell, or per month and country pair, or over all time, when that answers the query
the same), so the percentiles are estimated from histogram buckets, within the error bound
documented there; from/to are UTC midnights.

Visibility is the requests' own rule (app/identity/policy.py READ_REQUEST), applied to the
rollup through the same owner columns (its cells are keyed by them): a country's NCB counts
the requests its country sent or received, a unit its agency's, a desk its country's, the
global desk all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import DateTime, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.analytics import rollup
from app.analytics.schemas import AnalyticsOut, Dimension, DurationOut, GroupOut, Period, Stage
from app.core.errors import InvalidInputError
from app.identity import policy
from app.identity.auth import Actor
from app.models import (
    RequestOutcomeHistogram,
    RequestOutcomeMonthHistogram,
    RequestOutcomeMonthRollup,
    RequestOutcomeRollup,
    RequestOutcomeTotal,
    RequestOutcomeTotalHistogram,
)

# The rollup's grains, finest first: (cells, buckets, the column of their period, if any).
Grain = tuple[Any, Any, str | None]
_DAYS: Grain = (RequestOutcomeRollup, RequestOutcomeHistogram, "day")
_MONTHS: Grain = (RequestOutcomeMonthRollup, RequestOutcomeMonthHistogram, "month")
_TOTALS: Grain = (RequestOutcomeTotal, RequestOutcomeTotalHistogram, None)
GRAINS = {"day": _DAYS, "month": _MONTHS, "total": _TOTALS}
_BY_PAIR = {Dimension.TARGET_COUNTRY, Dimension.REQUESTING_COUNTRY, Dimension.PERIOD}
# More groups than anyone reads: a query that would give more is refused, not cut short.
MAX_GROUPS = 5000


def _is_midnight(value: datetime) -> bool:
    return value.astimezone(UTC).time() == time(0)


def days(first: date, last: date) -> tuple[datetime, datetime]:
    """Whole UTC days [first, last] as the bounds a Query takes: first's midnight and the one
    after last. A 422 for the calendar's last day, which no midnight follows."""
    if last >= date.max:
        raise InvalidInputError(f"must be before {date.max.isoformat()}", field="to")
    return datetime.combine(first, time(), UTC), datetime.combine(
        last + timedelta(days=1), time(), UTC
    )


@dataclass(frozen=True, slots=True)
class Query:
    group_by: Sequence[Dimension]
    period: Period = Period.MONTH
    start: datetime | None = None  # submitted at or after (a UTC midnight)
    end: datetime | None = None  # submitted before (a UTC midnight)
    target_country: str | None = None
    requesting_country: str | None = None

    def check(self) -> None:
        if len(set(self.group_by)) != len(self.group_by):
            raise InvalidInputError("name each dimension once", field="group_by")
        # The rollup counts requests per UTC day: a bound inside a day cannot be answered.
        for field, value in (("from", self.start), ("to", self.end)):
            if value is not None and not _is_midnight(value):
                raise InvalidInputError(
                    "analytics are kept per UTC day: give a UTC midnight "
                    "(e.g. 2026-03-02T00:00:00Z)",
                    field=field,
                )
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise InvalidInputError("must be after `from`", field="to")


def _grain(query: Query) -> Grain:
    """The coarsest grain that answers the query exactly as the days would (each sums the
    same requests' counts and buckets): all time, when it has no bounds and groups by no
    period; months, when it groups by neither type nor priority, by no period finer than a
    month, and its bounds are first days of months; else days. At the bench's 1,000,000
    requests they hold 190,000, 385,000 and 3.6 million bucket rows."""
    bounds = [value for value in (query.start, query.end) if value is not None]
    if not bounds and Dimension.PERIOD not in query.group_by:
        return _TOTALS
    if (
        set(query.group_by) <= _BY_PAIR
        and (Dimension.PERIOD not in query.group_by or query.period is Period.MONTH)
        and all(value.astimezone(UTC).day == 1 for value in bounds)
    ):
        return _MONTHS
    return _DAYS


def _period(model: Any, column: str, period: Period) -> ColumnElement[Any]:
    """The period a cell counts in, as cheap as the grain allows: its own column when the
    grain is that period, else truncated (a plain timestamp, so the session's time zone plays
    no part). Grouped on as is; made a UTC timestamp per group, not per row (:func:`_labels`)."""
    value = getattr(model, column)
    if column == period.value:
        return value.label("period")  # type: ignore[no-any-return]
    return func.date_trunc(period.value, cast(value, DateTime())).label("period")


def _key(
    model: Any, column: str | None, dimension: Dimension, period: Period
) -> ColumnElement[Any]:
    if dimension is Dimension.PERIOD:
        assert column is not None  # the total grain answers no query by period
        return _period(model, column, period)
    return getattr(model, dimension.value).label(dimension.value)  # type: ignore[no-any-return]


def _labels(statement: Select[Any], group_by: Sequence[Dimension], *, ordered: bool) -> Select[Any]:
    """The statement's rows with the period (if grouped by) as the start of the period, UTC:
    the network's one common calendar; ``ordered``: by the keys, as the groups are."""
    if Dimension.PERIOD not in group_by:
        return statement
    inner = statement.subquery()
    columns = [
        func.timezone("UTC", cast(column, DateTime())).label("period")
        if column.name == "period"
        else column
        for column in inner.columns
    ]
    labelled = select(*columns)
    if ordered:
        return labelled.order_by(*(inner.columns[dimension.value] for dimension in group_by))
    return labelled


def _conditions(
    model: Any, column: str | None, actor: Actor, query: Query
) -> list[ColumnElement[bool]]:
    # The same predicate as over the requests: the rollup keeps their owner columns.
    conditions = [policy.where(actor, policy.Action.READ_REQUEST, model)]
    if query.start is not None or query.end is not None:
        assert column is not None  # the total grain answers no query with bounds
        period = getattr(model, column)
        if query.start is not None:
            conditions.append(period >= query.start.astimezone(UTC).date())
        if query.end is not None:
            conditions.append(period < query.end.astimezone(UTC).date())
    if query.target_country is not None:
        conditions.append(model.target_country == query.target_country)
    if query.requesting_country is not None:
        conditions.append(model.requesting_country == query.requesting_country)
    return conditions


_COUNTS = (
    "requests",
    "escalated",
    "clock_met",
    "clock_breached",
    "ack_within_policy",
    "ack_policy_known",
    "ack_in_working_hours",
    "ack_hours_known",
)


def statements(
    actor: Actor, query: Query, *, grain: str | None = None
) -> tuple[Select[Any], Select[Any]]:
    """The aggregates as two SELECTs over the rollup (bench/analytics.py times them bare, as
    the floor): the groups' counts, and their durations' histograms per stage and bucket.
    ``grain`` ("day", "month" or "total") forces one, for tests; by default the coarsest
    that answers the query (:func:`_grain`)."""
    cell, bucket, column = _grain(query) if grain is None else GRAINS[grain]
    keys = [_key(cell, column, dimension, query.period) for dimension in query.group_by]
    counts = select(*keys, *(func.sum(getattr(cell, name)).label(name) for name in _COUNTS))
    counts = counts.where(*_conditions(cell, column, actor, query))
    bucket_keys = [_key(bucket, column, dimension, query.period) for dimension in query.group_by]
    buckets = select(
        *bucket_keys, bucket.stage, bucket.bucket, func.sum(bucket.requests).label("n")
    ).where(*_conditions(bucket, column, actor, query))
    buckets = buckets.group_by(*bucket_keys, bucket.stage, bucket.bucket)
    if keys:
        counts = counts.group_by(*keys).order_by(*keys)
    counts = counts.limit(MAX_GROUPS + 1)
    return (
        _labels(counts, query.group_by, ordered=True),
        _labels(buckets, query.group_by, ordered=False),
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _seconds(value: float | None) -> float | None:
    # Milliseconds are plenty (and the interpolation's float noise goes).
    return None if value is None else round(value, 3)


Histograms = dict[Stage, dict[int, int]]


def _group(values: Any, query: Query, histograms: Histograms) -> GroupOut:
    keys = {dimension.value: values[dimension.value] for dimension in query.group_by}
    count = int(values["requests"] or 0)
    met, breached = int(values["clock_met"] or 0), int(values["clock_breached"] or 0)
    escalated = int(values["escalated"] or 0)
    return GroupOut(
        **keys,
        count=count,
        durations={
            stage: DurationOut(
                count=sum(histograms.get(stage, {}).values()),
                p50_seconds=_seconds(rollup.percentile(histograms.get(stage, {}), 0.5)),
                p90_seconds=_seconds(rollup.percentile(histograms.get(stage, {}), 0.9)),
            )
            for stage in Stage
        },
        escalated=escalated,
        escalation_rate=_rate(escalated, count),
        clock_met=met,
        clock_breached=breached,
        breach_rate=_rate(breached, met + breached),
        ack_within_policy_share=_rate(
            int(values["ack_within_policy"] or 0), int(values["ack_policy_known"] or 0)
        ),
        ack_in_working_hours_share=_rate(
            int(values["ack_in_working_hours"] or 0), int(values["ack_hours_known"] or 0)
        ),
    )


async def aggregate(
    session: AsyncSession, actor: Actor, query: Query, *, grain: str | None = None
) -> AnalyticsOut:
    """The aggregates of the final requests the actor may see, from the rollup; a 403 for a
    role that sees no requests at all. ``grain``: as :func:`statements`."""
    query.check()
    policy.require(actor, policy.Action.READ_REQUEST)
    counts, buckets = statements(actor, query, grain=grain)
    rows = [row._mapping for row in await session.execute(counts)]
    if len(rows) > MAX_GROUPS:
        raise InvalidInputError(
            f"more than {MAX_GROUPS} groups: narrow `from`/`to` or group by less",
            field="group_by",
        )
    names = [dimension.value for dimension in query.group_by]
    histograms: dict[tuple[Any, ...], Histograms] = {}
    for bucket in await session.execute(buckets):
        values = bucket._mapping
        group = histograms.setdefault(tuple(values[name] for name in names), {})
        group.setdefault(Stage(values["stage"]), {})[values["bucket"]] = int(values["n"])
    # A query without keys over nothing still gives its one row of zeros: a group of none.
    groups = [
        _group(row, query, histograms.get(tuple(row[name] for name in names), {}))
        for row in rows
        if row["requests"] or not query.group_by
    ]
    return AnalyticsOut(
        group_by=list(query.group_by),
        period=query.period,
        from_=query.start,
        to=query.end,
        groups=groups,
    )


CSV_COLUMNS = (
    [dimension.value for dimension in Dimension]
    + ["count"]
    + [f"{stage}_{figure}" for stage in Stage for figure in ("count", "p50_seconds", "p90_seconds")]
    + [
        "escalated",
        "escalation_rate",
        "clock_met",
        "clock_breached",
        "breach_rate",
        "ack_within_policy_share",
        "ack_in_working_hours_share",
    ]
)


def to_csv(result: AnalyticsOut) -> str:
    """One line per group, the columns of CSV_COLUMNS (dimensions not grouped by empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for group in result.groups:
        flat: dict[str, Any] = group.model_dump(mode="json", exclude={"durations"})
        for stage, duration in group.durations.items():
            flat[f"{stage}_count"] = duration.count
            flat[f"{stage}_p50_seconds"] = duration.p50_seconds
            flat[f"{stage}_p90_seconds"] = duration.p90_seconds
        writer.writerow(["" if flat.get(name) is None else flat[name] for name in CSV_COLUMNS])
    return out.getvalue()
