"""Response analytics over all time: the rollup's third grain (app/analytics/rollup.py TOTAL),
per requesting agency (and country), target country, type and priority, any day; its cells
also carry what /metrics shows (per stage: requests at or under each fixed bound, those that
reached the stage, the sum of their durations in microseconds). And a block range index on
the day buckets' day, for a range of days over every owner.

Backfilled here, from request_outcomes, by the statements below (a frozen copy of what
``relay247 analytics rebuild`` runs for this grain today): the aggregates and /metrics read
it as soon as the upgrade is done. ``relay247 analytics rebuild --check`` compares it with
request_outcomes like the other grains.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TYPES = (
    "preservation",
    "traffic_data",
    "subscriber_info",
    "emergency_disclosure",
    "mutual_assistance",
    "technical_assistance",
    "incident_support",
    "information_sharing",
)
_KEY = ("target_country", "requesting_country", "requesting_agency_id", "type", "priority")
_STAGES = ("deliver", "acknowledge", "respond", "close")
_BOUNDS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 864000, 2592000)
# Each count, with what one request_outcomes row (o) adds to it.
_COUNTS = {
    "requests": "1",
    "escalated": "CASE WHEN o.escalation_steps > 0 THEN 1 ELSE 0 END",
    "overdue": "CASE WHEN o.overdue THEN 1 ELSE 0 END",
    "clock_met": "CASE WHEN o.clock = 'met' THEN 1 ELSE 0 END",
    "clock_breached": "CASE WHEN o.clock = 'breached' THEN 1 ELSE 0 END",
    "ack_within_policy": "CASE WHEN o.ack_within_policy THEN 1 ELSE 0 END",
    "ack_policy_known": "CASE WHEN o.ack_within_policy IS NOT NULL THEN 1 ELSE 0 END",
    "ack_in_working_hours": "CASE WHEN o.ack_in_working_hours THEN 1 ELSE 0 END",
    "ack_hours_known": "CASE WHEN o.ack_in_working_hours IS NOT NULL THEN 1 ELSE 0 END",
}
for _stage in _STAGES:
    for _bound in _BOUNDS:
        _COUNTS[f"{_stage}_le_{_bound}"] = (
            f"CASE WHEN o.{_stage}_seconds <= {_bound} THEN 1 ELSE 0 END"
        )
    _COUNTS[f"{_stage}_count"] = f"CASE WHEN o.{_stage}_seconds IS NOT NULL THEN 1 ELSE 0 END"
    _COUNTS[f"{_stage}_micros"] = f"coalesce(round(o.{_stage}_seconds * 1000000)::bigint, 0)"


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _key() -> list[sa.Column[object]]:
    return [
        sa.Column("target_country", sa.CHAR(2), nullable=False),
        sa.Column("requesting_country", sa.CHAR(2), nullable=False),
        sa.Column("requesting_agency_id", sa.Uuid(), nullable=False),
        sa.Column("type", _enum("requesttype", *_TYPES), nullable=False),
        sa.Column("priority", _enum("priority", "emergency", "urgent", "routine"), nullable=False),
    ]


def _backfill() -> None:
    key = ", ".join(_KEY)
    of_outcome = ", ".join(f"o.{name}" for name in _KEY)
    sums = ", ".join(
        f"sum({value})::{'bigint' if name.endswith('_micros') else 'int'}"
        for name, value in _COUNTS.items()
    )
    op.execute(
        f"INSERT INTO request_outcome_totals ({key}, {', '.join(_COUNTS)}) "  # noqa: S608
        f"SELECT {of_outcome}, {sums} FROM request_outcomes o "
        f"GROUP BY {of_outcome} ORDER BY {of_outcome}"
    )
    bucket = (
        "CASE WHEN s.seconds <= 1 THEN 0 "
        "ELSE least(ceil(16 * ln(s.seconds) / ln(2)), 358) END::smallint"
    )
    group = f"{of_outcome}, s.stage, {bucket}"
    op.execute(
        f"INSERT INTO request_outcome_total_histograms ({key}, stage, bucket, requests) "  # noqa: S608
        f"SELECT {of_outcome}, s.stage, {bucket}, count(*)::int FROM request_outcomes o "
        "CROSS JOIN LATERAL (VALUES ('deliver', o.deliver_seconds), "
        "('acknowledge', o.acknowledge_seconds), ('respond', o.respond_seconds), "
        "('close', o.close_seconds)) AS s(stage, seconds) "
        f"WHERE s.seconds IS NOT NULL GROUP BY {group} ORDER BY {group}"
    )


def upgrade() -> None:
    op.create_table(
        "request_outcome_totals",
        *_key(),
        *(
            sa.Column(
                name, sa.BigInteger() if name.endswith("_micros") else sa.Integer(), nullable=False
            )
            for name in _COUNTS
        ),
        sa.PrimaryKeyConstraint(*_KEY, name="pk_request_outcome_totals"),
    )
    op.create_table(
        "request_outcome_total_histograms",
        *_key(),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('deliver', 'acknowledge', 'respond', 'close')",
            name="ck_request_outcome_total_histograms_stage",
        ),
        sa.PrimaryKeyConstraint(
            *_KEY, "stage", "bucket", name="pk_request_outcome_total_histograms"
        ),
    )
    _backfill()
    # The day buckets of a range of days, over every owner: their rows lie in day order.
    op.create_index(
        "ix_request_outcome_histograms_day",
        "request_outcome_histograms",
        ["day"],
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )


def downgrade() -> None:
    op.drop_index("ix_request_outcome_histograms_day", "request_outcome_histograms")
    op.drop_table("request_outcome_total_histograms")
    op.drop_table("request_outcome_totals")
