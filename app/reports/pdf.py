"""A report as a PDF, laid out and drawn by ReportLab (platypus for the pages, its chart
library for the bars): the volumes by period and by type, the response times' median and 90th
percentile per stage, the median time to acknowledge per target country, and tables of every
figure shown. Written with ``invariant`` on, so the same content gives the same bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.analytics.schemas import GroupOut, Stage
from app.analytics.wording import duration, share
from app.reports.content import CollectionCount, Content, submitted_by
from app.reports.schemas import NETWORK

WIDTH = int(A4[0] - 36 * mm)  # the frame's width, in points
MOST_ROWS = 30  # rows of a table or bars of a chart: the CSV holds every group
_STYLES = getSampleStyleSheet()
_BLUE, _ORANGE = colors.HexColor("#1f5fa8"), colors.HexColor("#d9822b")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _paragraph(text: str, style: str = "BodyText") -> Paragraph:
    return Paragraph(_escape(text), _STYLES[style])


def _table(header: Sequence[str], body: list[list[str]]) -> Table:
    table = Table([list(header), *body[:MOST_ROWS]], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f0f3f7")]),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def _empty(drawing: Drawing, text: str) -> Drawing:
    drawing.add(String(0, drawing.height / 2, text, fontName="Helvetica", fontSize=9))
    return drawing


def vertical_bars(title: str, labels: list[str], values: list[float]) -> Drawing:
    drawing = Drawing(WIDTH, 150)
    drawing.add(String(0, 138, title, fontName="Helvetica-Bold", fontSize=10))
    if not values or not any(values):
        return _empty(drawing, "No final requests in the period.")
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 30, 30, WIDTH - 40, 95
    chart.data = [values]
    chart.bars[0].fillColor = _BLUE
    chart.valueAxis.valueMin = 0
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.angle = 90 if len(labels) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "e" if len(labels) > 8 else "n"
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.labels.fontSize = 7
    drawing.add(chart)
    return drawing


def horizontal_bars(
    title: str, labels: list[str], series: list[list[float]], names: list[str] | None = None
) -> Drawing:
    # ReportLab draws the first category at the bottom: reversed, the list reads top down.
    labels = labels[:MOST_ROWS][::-1]
    series = [values[:MOST_ROWS][::-1] for values in series]
    height = 40 + 14 * max(len(labels), 1) * len(series)
    drawing = Drawing(WIDTH, height)
    drawing.add(String(0, height - 12, title, fontName="Helvetica-Bold", fontSize=10))
    if not labels or not any(any(values) for values in series):
        return _empty(drawing, "Nothing to show in the period.")
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 110, 20, WIDTH - 200, height - 40
    chart.data = series
    for index, colour in enumerate((_BLUE, _ORANGE)[: len(series)]):
        chart.bars[index].fillColor = colour
    chart.valueAxis.valueMin = 0
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontSize = 7
    chart.barLabelFormat = "%.3g"  # each bar's value at its end
    chart.barLabels.fontSize = 6
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    if names:
        legend = Legend()
        legend.x, legend.y = WIDTH - 80, height - 20
        legend.fontSize = 7
        legend.colorNamePairs = list(zip((_BLUE, _ORANGE), names, strict=False))
        drawing.add(legend)
    return drawing


def _figures_row(label: str, group: GroupOut) -> list[str]:
    ack = group.durations[Stage.ACKNOWLEDGE]
    respond = group.durations[Stage.RESPOND]
    return [
        label,
        str(group.count),
        duration(ack.p50_seconds),
        duration(ack.p90_seconds),
        duration(respond.p50_seconds),
        duration(respond.p90_seconds),
        share(group.escalation_rate),
        share(group.breach_rate),
        share(group.ack_within_policy_share),
    ]


_FIGURES = ("", "final", "ack p50", "ack p90", "resp. p50", "resp. p90", "escal.", "breach",
            "ack in policy")  # fmt: skip


def _trend(content: Content) -> str:
    now = sum(row.count for row in content.submitted)
    still = sum(row.open for row in content.submitted)
    before = content.previous_submitted
    said = f"{now} requests submitted, {still} of them still open"
    if before == 0:
        return f"{said} (none in the period before)."
    change = (now - before) / before * 100
    return f"{said}; {change:+.0f}% on the period before ({before})."


def _story(content: Content, report_id: str, generated_at: str) -> list[Flowable]:
    scope = "the network" if content.scope == NETWORK else content.scope
    period = f"{content.start.date().isoformat()} to {content.end.date().isoformat()} (UTC)"
    story: list[Flowable] = [
        _paragraph(f"relay247 cyber analytical report: {scope}", "Title"),
        _paragraph(
            f"{content.kind.value.replace('_', ' ')} report, {period}; generated "
            f"{generated_at}; report {report_id}."
        ),
        _paragraph(
            "Volumes count every request submitted in the period, open or final; response "
            "figures count the requests once final (closed, declined, cancelled), by the UTC "
            "day they were submitted. Readiness drills are counted apart. Verify this file "
            "with `relay247 report verify` and the signed manifest."
        ),
        Spacer(0, 4 * mm),
        _paragraph("Volumes", "Heading2"),
        _paragraph(_trend(content)),
    ]
    by_type = submitted_by(content.submitted, "type")
    story.append(horizontal_bars(
        "Requests submitted by type", [key[0] for key, _, _ in by_type],
        [[float(count) for _, count, _ in by_type], [float(still) for _, _, still in by_type]],
        ["submitted", "still open"],
    ))  # fmt: skip
    story.append(_table(["priority", "submitted", "still open"], [
        [key[0], str(count), str(still)]
        for key, count, still in submitted_by(content.submitted, "priority")
    ]))  # fmt: skip
    story.append(Spacer(0, 3 * mm))
    story.append(_paragraph("Country pairs (target, requesting), busiest first", "Heading3"))
    story.append(_table(["target", "from", "submitted", "still open"], [
        [*key, str(count), str(still)]
        for key, count, still in submitted_by(
            content.submitted, "target_country", "requesting_country"
        )
    ]))  # fmt: skip
    trend_labels = [g.period.date().isoformat()[5:] if g.period else "" for g in content.trend]
    story.append(vertical_bars(
        f"Final requests per {content.trend_period.value} of submission", trend_labels,
        [float(g.count) for g in content.trend],
    ))  # fmt: skip
    pairs = sorted(content.by_pair, key=lambda g: -g.count)
    story.append(_paragraph("Final requests by country pair", "Heading3"))
    story.append(_table(["target", "from", *_FIGURES[1:]], [
        [str(g.target_country), *_figures_row(str(g.requesting_country), g)] for g in pairs
    ]))  # fmt: skip
    story.append(_paragraph("Response performance", "Heading2"))
    totals = content.totals
    stages = list(Stage)
    if totals is not None:
        p50 = [(totals.durations[s].p50_seconds or 0.0) / 3600 for s in stages]
        p90 = [(totals.durations[s].p90_seconds or 0.0) / 3600 for s in stages]
        story.append(horizontal_bars(
            "Hours from submission to each stage", [s.value for s in stages], [p50, p90],
            ["median", "90th percentile"],
        ))  # fmt: skip
    targets = content.by_target
    story.append(horizontal_bars(
        "Median hours to acknowledge, by target country", [str(g.target_country) for g in targets],
        [[(g.durations[Stage.ACKNOWLEDGE].p50_seconds or 0.0) / 3600 for g in targets]],
    ))  # fmt: skip
    story.append(_table(_FIGURES, [_figures_row(str(g.target_country), g) for g in targets]))
    story.append(_paragraph("Readiness drills", "Heading2"))
    story.append(_table(
        ["desk", "sent", "acknowledged", "failed", "waiting", "ack p50", "ack p90"],
        [[d.country, str(d.sent), str(d.acknowledged), str(d.failed), str(d.waiting),
          duration(d.median_seconds_to_acknowledge), duration(d.p90_seconds_to_acknowledge)]
         for d in content.drills],
    ) if content.drills else _paragraph("No drill was sent in the period."))  # fmt: skip
    story.append(_paragraph("Shared data and matches", "Heading2"))
    story.extend(_counts("Objects shared", content.shared))
    story.extend(_counts("Matches with requests", content.matched))
    return story


def _counts(title: str, counts: list[CollectionCount]) -> list[Flowable]:
    if not counts:
        return [_paragraph(f"{title}: none in the period.")]
    return [
        _paragraph(title, "Heading3"),
        _table(
            ["collection", "kind", "objects"], [[c.title, c.kind, str(c.count)] for c in counts]
        ),
    ]


def render(content: Content, report_id: str, generated_at: str) -> bytes:
    out = io.BytesIO()
    document: Any = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"relay247 report {report_id}",
        author="relay247",
        invariant=1,
    )
    document.build(_story(content, report_id, generated_at))
    return out.getvalue()
