"""Response analytics: one row of figures per final request (app/analytics/outcomes.py),
written in the transaction that makes it final, read by the aggregates.

Requests that were final before this revision get theirs from ``relay247 analytics rebuild``
(the migration does not restate the derivation, which lives in the application only).

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07 21:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
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
    op.create_index("ix_request_outcomes_created", "request_outcomes", ["created_at"])
    op.create_index(
        "ix_request_outcomes_target_created", "request_outcomes", ["target_country", "created_at"]
    )
    op.create_index(
        "ix_request_outcomes_sending_created",
        "request_outcomes",
        ["requesting_country", "created_at"],
    )
    op.create_index(
        "ix_request_outcomes_agency_created",
        "request_outcomes",
        ["requesting_agency_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("request_outcomes")
