"""GET /v1/analytics/responses: response figures, aggregated (app/analytics/aggregates.py)."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.analytics import aggregates
from app.analytics.schemas import AnalyticsOut, Dimension, Period
from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.errors import InvalidInputError
from app.core.primitives import CountryCode, Instant, Text

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


class Format(enum.StrEnum):
    JSON = "json"
    CSV = "csv"


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The groups as JSON, or with format=csv one CSV line per group",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    **problems.responses(403),
}


def parse_group_by(values: list[str]) -> list[Dimension]:
    """``group_by=type&group_by=priority`` or ``group_by=type,priority``."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    known = ", ".join(dimension.value for dimension in Dimension)
    for name in names:
        if name not in Dimension.__members__.values():
            raise InvalidInputError(f"{name!r} is not one of {known}", field="group_by")
    return [Dimension(name) for name in names]


@router.get("/responses", response_model=AnalyticsOut, responses=_RESPONSES)
async def responses(
    session: Session,
    actor: CurrentActor,
    group_by: Annotated[
        list[Annotated[str, Text(max_length=200)]] | None,
        Query(
            description="What to group by, repeated or comma-separated: target_country, "
            "requesting_country, type, priority, period. None: one group of everything"
        ),
    ] = None,
    period: Annotated[
        Period, Query(description="The period `group_by=period` means: day, week, month (UTC)")
    ] = Period.MONTH,
    start: Annotated[
        Instant | None,
        Query(
            alias="from",
            description="Requests submitted at or after this UTC midnight (counted per UTC day)",
        ),
    ] = None,
    end: Annotated[
        Instant | None, Query(alias="to", description="Submitted before this UTC midnight")
    ] = None,
    target_country: CountryCode | None = None,
    requesting_country: CountryCode | None = None,
    output: Annotated[Format, Query(alias="format", description="json or csv")] = Format.JSON,
) -> Any:
    """How fast and how well the requests you may see were answered, once final (closed,
    declined, cancelled): per group, their count, the median and 90th percentile of the times
    to deliver, acknowledge, first respond and close (seconds from submission), the escalation
    rate, the legal clocks' breach rate and the shares acknowledged within policy and within
    the target's working hours. Counted by the UTC day they were submitted on. The percentiles
    are estimated from log-spaced histogram buckets, within 4.43% of the nearest-rank value
    (see docs/analytics.md for the rule)."""
    result = await aggregates.aggregate(
        session,
        actor,
        aggregates.Query(
            group_by=parse_group_by(group_by or []),
            period=period,
            start=start,
            end=end,
            target_country=target_country,
            requesting_country=requesting_country,
        ),
    )
    if output is Format.CSV:
        return Response(
            aggregates.to_csv(result),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="responses.csv"'},
        )
    return result
