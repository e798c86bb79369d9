"""/web/analytics: the response figures of the requests the reader may see, as charts drawn
on the server (inline SVG: nothing to load, nothing to run) and a table of every figure.

The global desk sees the network by target country; an NCB its own country both ways: what
it received, by the country that sent it, and what its country sent, by target. Every
figure comes from app/analytics/aggregates.py under the reader's own visibility, as the API
gives it (the page links the same query as CSV)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.analytics import aggregates
from app.analytics.schemas import AnalyticsOut, Dimension, GroupOut, Period, Stage
from app.analytics.wording import duration, share
from app.api.deps import DatabaseOf
from app.core.errors import DomainError
from app.models.enums import Role
from app.web import pages
from app.web.security import WEB_PREFIX

router = APIRouter(prefix=WEB_PREFIX, include_in_schema=False)

DEFAULT_DAYS = 90
BAR_WIDTH = 360  # px of the longest bar
ROW_HEIGHT = 24


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    width: float  # px
    text: str
    tone: str  # a CSS class: ok, warn, bad, plain


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: list[Bar]

    @property
    def height(self) -> int:
        return ROW_HEIGHT * len(self.bars)


def _tone(value: float | None, warn: float, bad: float) -> str:
    if value is None:
        return "plain"
    return "bad" if value >= bad else "warn" if value >= warn else "ok"


def _bars(labels: list[str], values: list[float | None], tones: list[str], text: Any) -> list[Bar]:
    """One bar per label, the longest BAR_WIDTH wide; ``text`` says each value in words."""
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    return [
        Bar(label, BAR_WIDTH * (value or 0.0) / top, text(value), tone)
        for label, value, tone in zip(labels, values, tones, strict=True)
    ]


def charts(groups: list[GroupOut], label: str) -> list[Chart]:
    """What a person reads at a glance, one bar per country: how fast it acknowledges, how
    often it breaches the legal clock, how often it acknowledges within policy."""
    labels = [str(getattr(group, label)) for group in groups]
    ack = [group.durations[Stage.ACKNOWLEDGE].p50_seconds for group in groups]
    breach = [group.breach_rate for group in groups]
    late = [
        None if g.ack_within_policy_share is None else 1 - g.ack_within_policy_share for g in groups
    ]
    within = [group.ack_within_policy_share for group in groups]
    return [
        Chart("Median time to acknowledge", _bars(labels, ack, ["plain"] * len(groups), duration)),
        Chart("Legal clocks breached",
              _bars(labels, breach, [_tone(v, 0.05, 0.2) for v in breach], share)),
        Chart("Acknowledged within policy",
              _bars(labels, within, [_tone(v, 0.1, 0.3) for v in late], share)),
    ]  # fmt: skip


def trend(groups: list[GroupOut]) -> Chart:
    """Final requests per week, oldest first, each labelled by its Monday."""
    labels = [group.period.date().isoformat() if group.period else "" for group in groups]
    counts: list[float | None] = [float(group.count) for group in groups]
    bars = _bars(labels, counts, ["plain"] * len(groups), lambda v: f"{v or 0:.0f}")
    return Chart("Final requests per week", bars)


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    label: str  # the dimension each row is
    result: AnalyticsOut
    csv: str

    @property
    def charts(self) -> list[Chart]:
        return charts(self.result.groups, self.label)


def _day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        return default


def _csv_link(query: aggregates.Query) -> str:
    params: dict[str, str] = {"group_by": ",".join(query.group_by), "format": "csv"}
    if query.start:
        params["from"] = query.start.isoformat()
    if query.end:
        params["to"] = query.end.isoformat()
    for name in ("target_country", "requesting_country"):
        if getattr(query, name):
            params[name] = getattr(query, name)
    return f"/v1/analytics/responses?{urlencode(params)}"


_Shown = tuple[str, str, str, aggregates.Query]  # id, title, what each row is, the query


def _queries(role: Role, country: str, start: datetime, end: datetime) -> list[_Shown]:
    by = Dimension
    if role is Role.NCB:
        received = aggregates.Query(
            [by.REQUESTING_COUNTRY], start=start, end=end, target_country=country
        )
        sent = aggregates.Query(
            [by.TARGET_COUNTRY], start=start, end=end, requesting_country=country
        )
        return [
            (
                "received",
                f"Received by {country}, by sending country",
                by.REQUESTING_COUNTRY,
                received,
            ),
            ("sent", f"Sent from {country}, by target country", by.TARGET_COUNTRY, sent),
        ]
    title = "The network, by target country" if role is Role.GS else "By target country"
    targets = aggregates.Query([by.TARGET_COUNTRY], start=start, end=end)
    return [("targets", title, by.TARGET_COUNTRY, targets)]


@router.get("/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request, database: DatabaseOf, signed_in: pages.SignedIn
) -> Response:
    if signed_in is None:
        return pages.to_sign_in()
    actor = signed_in.actor
    today = datetime.now(UTC).date()
    first = _day(request.query_params.get("from"), today - timedelta(days=DEFAULT_DAYS))
    last = _day(request.query_params.get("to"), today)
    if last < first:
        first, last = last, first
    sections: list[Section] = []
    problem = None
    weekly = None
    try:
        start, end = aggregates.days(first, last)
        async with pages.transaction(database) as session:
            for key, title, label, query in _queries(actor.role, actor.country, start, end):
                result = await aggregates.aggregate(session, actor, query)
                sections.append(Section(key, title, label, result, _csv_link(query)))
            per_week = aggregates.Query(
                [Dimension.PERIOD], period=Period.WEEK, start=start, end=end
            )
            weekly = trend((await aggregates.aggregate(session, actor, per_week)).groups)
    except DomainError as refused:
        problem = refused.detail
    return pages.render(
        request,
        signed_in,
        "analytics.html",
        page="analytics",
        sections=sections,
        weekly=weekly,
        problem_text=problem,
        first=first.isoformat(),
        last=last.isoformat(),
        duration=duration,
        share=share,
        stages=list(Stage),
        bar_width=BAR_WIDTH,
        row_height=ROW_HEIGHT,
    )
