"""A report's content as rows: the CSV a recipient loads into a spreadsheet, and the tables of
the PDF, from one place so that the two say the same.

The CSV is long: ``section,group,metric,value``, one figure a line; ``group`` names the
group's keys (``target_country=DE;requesting_country=FR``), empty for a section's total.
Section ``submitted`` counts every request submitted in the period (``count``) and those still
open (``open``) by country pair, type and priority; the other request sections count the
final ones, with their response figures."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from app.analytics.schemas import GroupOut, Stage
from app.reports.content import Content

CSV_HEADER = ("section", "group", "metric", "value")
_KEYS = ("target_country", "requesting_country", "type", "priority", "period")
_RATES = (
    "escalated",
    "escalation_rate",
    "clock_met",
    "clock_breached",
    "breach_rate",
    "ack_within_policy_share",
    "ack_in_working_hours_share",
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    return str(value)


def group_name(group: GroupOut) -> str:
    return ";".join(
        f"{key}={_text(getattr(group, key))}" for key in _KEYS if getattr(group, key) is not None
    )


def _figures(group: GroupOut) -> Iterator[tuple[str, Any]]:
    yield "count", group.count
    for stage in Stage:
        duration = group.durations[stage]
        yield f"{stage}_count", duration.count
        yield f"{stage}_p50_seconds", duration.p50_seconds
        yield f"{stage}_p90_seconds", duration.p90_seconds
    for name in _RATES:
        yield name, getattr(group, name)


def rows(content: Content, report_id: str, generated_at: str) -> Iterator[tuple[str, ...]]:
    yield from (
        ("report", "", "report_id", report_id),
        ("report", "", "scope", content.scope),
        ("report", "", "kind", content.kind.value),
        ("report", "", "period_start", _text(content.start)),
        ("report", "", "period_end", _text(content.end)),
        ("report", "", "generated_at", generated_at),
        ("report", "", "previous_period_count", str(content.previous_count)),
        ("report", "", "previous_period_submitted", str(content.previous_submitted)),
    )
    for row in content.submitted:
        keys = (
            f"target_country={row.target_country};requesting_country={row.requesting_country};"
            f"type={row.type};priority={row.priority}"
        )
        yield "submitted", keys, "count", str(row.count)
        yield "submitted", keys, "open", str(row.open)
    sections: list[tuple[str, list[GroupOut]]] = [
        ("total", [content.totals] if content.totals else []),
        ("by_type", content.by_type),
        ("by_priority", content.by_priority),
        ("by_country_pair", content.by_pair),
        ("by_target_country", content.by_target),
        (f"trend_{content.trend_period.value}", content.trend),
    ]
    for section, groups in sections:
        for group in groups:
            for metric, value in _figures(group):
                yield section, group_name(group), metric, _text(value)
    for desk in content.drills:
        for metric, value in desk.model_dump().items():
            if metric != "country":
                yield "drills", f"country={desk.country}", metric, _text(value)
    for section, counts in (("shared", content.shared), ("matched", content.matched)):
        for count in counts:
            yield (
                section,
                f"collection={count.title};kind={count.kind}",
                "objects",
                str(count.count),
            )


def to_csv(content: Content, report_id: str, generated_at: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows(content, report_id, generated_at))
    return out.getvalue().encode()
