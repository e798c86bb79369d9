"""Aggregates of request outcomes, grouped as the caller asks, over the requests it may see.

Visibility is the requests' own rule (app/identity/policy.py READ_REQUEST), applied to
request_outcomes through the same owner columns: a country's NCB counts the requests its
country sent or received, a unit its agency's, a desk its country's, the global desk all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, case, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.analytics.schemas import AnalyticsOut, Dimension, DurationOut, GroupOut, Period, Stage
from app.core.errors import InvalidInputError
from app.identity import policy
from app.identity.auth import Actor
from app.models import ClockOutcome, RequestOutcome

_O = RequestOutcome
_DURATIONS: dict[Stage, Any] = {
    Stage.DELIVER: _O.deliver_seconds,
    Stage.ACKNOWLEDGE: _O.acknowledge_seconds,
    Stage.RESPOND: _O.respond_seconds,
    Stage.CLOSE: _O.close_seconds,
}
_PERCENTILES = literal([0.5, 0.9], ARRAY(Float))
# The sorts of the percentiles stay in memory up to this (Postgres' default, 4 MB, spills a
# million durations to disk); for the analytics transaction only (SET LOCAL).
WORK_MEM = "64MB"
# More groups than anyone reads: a query that would give more is refused, not cut short.
MAX_GROUPS = 5000


@dataclass(frozen=True, slots=True)
class Query:
    group_by: Sequence[Dimension]
    period: Period = Period.MONTH
    start: datetime | None = None  # submitted at or after
    end: datetime | None = None  # submitted before
    target_country: str | None = None
    requesting_country: str | None = None

    def check(self) -> None:
        if len(set(self.group_by)) != len(self.group_by):
            raise InvalidInputError("name each dimension once", field="group_by")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise InvalidInputError("must be after `from`", field="to")


def _key(dimension: Dimension, period: Period) -> ColumnElement[Any]:
    if dimension is Dimension.PERIOD:
        # Periods of the network's one common calendar: UTC.
        return func.date_trunc(period.value, _O.created_at, "UTC").label("period")
    return getattr(_O, dimension.value).label(dimension.value)  # type: ignore[no-any-return]


def _share(flag: Any) -> ColumnElement[Any]:
    # avg ignores NULLs: a request the flag does not apply to is in neither part.
    return func.avg(case((flag, 1.0), (~flag, 0.0)))


def statement(actor: Actor, query: Query) -> Any:
    """The aggregates as one SELECT (bench/analytics.py times it bare, as its floor)."""
    keys = [_key(dimension, query.period) for dimension in query.group_by]
    figures: list[ColumnElement[Any]] = [func.count().label("count")]
    for stage, column in _DURATIONS.items():
        # Both percentiles from one sort: the array form of percentile_cont.
        figures += [
            func.count(column).label(f"{stage}_n"),
            func.percentile_cont(_PERCENTILES).within_group(column).label(f"{stage}_p"),
        ]
    figures += [
        func.count().filter(_O.escalation_steps > 0).label("escalated"),
        func.count().filter(_O.clock == ClockOutcome.MET).label("clock_met"),
        func.count().filter(_O.clock == ClockOutcome.BREACHED).label("clock_breached"),
        _share(_O.ack_within_policy).label("ack_within_policy_share"),
        _share(_O.ack_in_working_hours).label("ack_in_working_hours_share"),
    ]
    conditions = [policy.where(actor, policy.Action.READ_REQUEST, RequestOutcome)]
    if query.start is not None:
        conditions.append(_O.created_at >= query.start)
    if query.end is not None:
        conditions.append(_O.created_at < query.end)
    if query.target_country is not None:
        conditions.append(_O.target_country == query.target_country)
    if query.requesting_country is not None:
        conditions.append(_O.requesting_country == query.requesting_country)
    selected = select(*keys, *figures).where(*conditions)
    if keys:
        selected = selected.group_by(*keys).order_by(*keys)
    return selected.limit(MAX_GROUPS + 1)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _group(row: Any, query: Query) -> GroupOut:
    values = row._mapping
    keys = {dimension.value: values[dimension.value] for dimension in query.group_by}
    met, breached = values["clock_met"], values["clock_breached"]
    return GroupOut(
        **keys,
        count=values["count"],
        durations={
            stage: DurationOut(
                count=values[f"{stage}_n"],
                p50_seconds=_seconds(_nth(values[f"{stage}_p"], 0)),
                p90_seconds=_seconds(_nth(values[f"{stage}_p"], 1)),
            )
            for stage in Stage
        },
        escalated=values["escalated"],
        escalation_rate=_rate(values["escalated"], values["count"]),
        clock_met=met,
        clock_breached=breached,
        breach_rate=_rate(breached, met + breached),
        ack_within_policy_share=_float(values["ack_within_policy_share"]),
        ack_in_working_hours_share=_float(values["ack_in_working_hours_share"]),
    )


def _nth(values: list[float | None] | None, index: int) -> float | None:
    return None if values is None else values[index]


def _seconds(value: float | None) -> float | None:
    # Interpolation leaves float noise (102.00000000000001): milliseconds are plenty.
    return None if value is None else round(value, 3)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def aggregate(session: AsyncSession, actor: Actor, query: Query) -> AnalyticsOut:
    """The aggregates of the outcomes the actor may see; a 403 for a role that sees no
    requests at all."""
    query.check()
    policy.require(actor, policy.Action.READ_REQUEST)
    await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    rows = list(await session.execute(statement(actor, query)))
    if len(rows) > MAX_GROUPS:
        raise InvalidInputError(
            f"more than {MAX_GROUPS} groups: narrow `from`/`to` or group by less",
            field="group_by",
        )
    # A query without keys over nothing still gives its one row of zeros: a group of none.
    groups = [_group(row, query) for row in rows if row._mapping["count"] or not query.group_by]
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
