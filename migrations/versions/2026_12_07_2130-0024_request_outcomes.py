"""Response analytics: one row of figures per final request (app/analytics/outcomes.py),
written in the transaction that makes it final, and the rollup the aggregates read (counts and
duration histograms per day, country pair, agency, type and priority), kept in that same
transaction.

Requests that were final before this revision get theirs (and the rollup) from ``relay247 analytics rebuild``
(the migration does not restate the derivation, which lives in the application only).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 21:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = (
    "submitted",
    "delivered",
    "acknowledged",
    "in_progress",
    "info_requested",
    "responded",
    "closed",
    "declined",
    "cancelled",
)
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


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "request_outcomes",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("status", _enum("outcome_status", *_STATUSES), nullable=False),
        sa.Column("type", _enum("requesttype", *_TYPES), nullable=False),
        sa.Column("priority", _enum("priority", "emergency", "urgent", "routine"), nullable=False),
        sa.Column("requesting_agency_id", sa.Uuid(), nullable=False),
        sa.Column("requesting_country", sa.CHAR(2), nullable=False),
        sa.Column("target_country", sa.CHAR(2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliver_seconds", sa.Double(), nullable=True),
        sa.Column("acknowledge_seconds", sa.Double(), nullable=True),
        sa.Column("respond_seconds", sa.Double(), nullable=True),
        sa.Column("close_seconds", sa.Double(), nullable=False),
        sa.Column("escalation_steps", sa.SmallInteger(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("clock", _enum("clockoutcome", "met", "breached", "not_due"), nullable=True),
        sa.Column("clock_margin_seconds", sa.Double(), nullable=True),
        sa.Column("ack_within_policy", sa.Boolean(), nullable=True),
        sa.Column("ack_in_working_hours", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name="fk_request_outcomes_request_id_requests"
        ),
        sa.PrimaryKeyConstraint("request_id", name="pk_request_outcomes"),
    )
    _rollups()


def _cell_key() -> list[sa.Column[object]]:
    """A rollup cell: final requests submitted on one UTC day, from one agency (one country)
    to one target country, of one type and priority."""
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("target_country", sa.CHAR(2), nullable=False),
        sa.Column("requesting_country", sa.CHAR(2), nullable=False),
        sa.Column("requesting_agency_id", sa.Uuid(), nullable=False),
        sa.Column("type", _enum("requesttype", *_TYPES), nullable=False),
        sa.Column("priority", _enum("priority", "emergency", "urgent", "routine"), nullable=False),
    ]


_KEY = ("day", "target_country", "requesting_country", "requesting_agency_id", "type", "priority")
_COUNTS = (
    "requests",
    "escalated",
    "overdue",
    "clock_met",
    "clock_breached",
    "ack_within_policy",
    "ack_policy_known",
    "ack_in_working_hours",
    "ack_hours_known",
)


def _owner_indexes(table: str) -> None:
    for name, column in (("target", "target_country"), ("sending", "requesting_country")):
        op.create_index(f"ix_{table}_{name}_day", table, [column, "day"])
    op.create_index(f"ix_{table}_agency_day", table, ["requesting_agency_id", "day"])


def _rollups() -> None:
    """The aggregates' rollup (app/analytics/rollup.py): counts per cell, and per cell and
    stage the non-empty buckets of a log-spaced histogram of the durations."""
    op.create_table(
        "request_outcome_rollups",
        *_cell_key(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.PrimaryKeyConstraint(*_KEY, name="pk_request_outcome_rollups"),
    )
    _owner_indexes("request_outcome_rollups")
    op.create_table(
        "request_outcome_histograms",
        *_cell_key(),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('deliver', 'acknowledge', 'respond', 'close')",
            name="ck_request_outcome_histograms_stage",
        ),
        sa.PrimaryKeyConstraint(*_KEY, "stage", "bucket", name="pk_request_outcome_histograms"),
    )
    _owner_indexes("request_outcome_histograms")
    _month_rollups()


def _month_rollups() -> None:
    """The same, coarser: per month and country pair (and agency), without type or priority."""

    def month_key() -> list[sa.Column[object]]:
        return [
            sa.Column("month", sa.Date(), nullable=False),
            sa.Column("target_country", sa.CHAR(2), nullable=False),
            sa.Column("requesting_country", sa.CHAR(2), nullable=False),
            sa.Column("requesting_agency_id", sa.Uuid(), nullable=False),
        ]

    names = ("month", "target_country", "requesting_country", "requesting_agency_id")
    op.create_table(
        "request_outcome_month_rollups",
        *month_key(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.PrimaryKeyConstraint(*names, name="pk_request_outcome_month_rollups"),
    )
    op.create_table(
        "request_outcome_month_histograms",
        *month_key(),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('deliver', 'acknowledge', 'respond', 'close')",
            name="ck_request_outcome_month_histograms_stage",
        ),
        sa.PrimaryKeyConstraint(
            *names, "stage", "bucket", name="pk_request_outcome_month_histograms"
        ),
    )


def downgrade() -> None:
    op.drop_table("request_outcome_month_histograms")
    op.drop_table("request_outcome_month_rollups")
    op.drop_table("request_outcome_histograms")
    op.drop_table("request_outcome_rollups")
    op.drop_table("request_outcomes")
