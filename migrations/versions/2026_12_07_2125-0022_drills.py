"""Readiness drills (app/drills/): a drill of one desk, scheduled for a time drawn once within
a window, and ``requests.drill_id``, which marks the request it became. A drill is sent to its
desk from the network, so its request counts as its own country's: the check that a request
goes to another country holds for real requests only.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target_country", sa.CHAR(2), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(
                "emergency",
                "urgent",
                "routine",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_by", sa.Uuid(), nullable=False),
        sa.Column("scheduled_by_agency_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("window_start <= window_end", name=op.f("ck_drills_window_ordered")),
        sa.CheckConstraint(
            "due_at BETWEEN window_start AND window_end", name=op.f("ck_drills_due_in_window")
        ),
        sa.ForeignKeyConstraint(
            ["target_country"], ["countries.code"], name=op.f("fk_drills_target_country_countries")
        ),
        sa.ForeignKeyConstraint(
            ["scheduled_by"], ["principals.id"], name=op.f("fk_drills_scheduled_by_principals")
        ),
        sa.ForeignKeyConstraint(
            ["scheduled_by_agency_id"],
            ["agencies.id"],
            name=op.f("fk_drills_scheduled_by_agency_id_agencies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drills")),
    )
    op.create_index(
        "ix_drills_pending_due",
        "drills",
        [sa.text("coalesce(retry_at, due_at)")],
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )
    op.create_index("ix_drills_country_due", "drills", ["target_country", "due_at", "id"])
    op.add_column("requests", sa.Column("drill_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_requests_drill_id_drills"), "requests", "drills", ["drill_id"], ["id"]
    )
    # One request per drill: a second sending of the same drill cannot be written.
    op.create_unique_constraint(op.f("uq_requests_drill_id"), "requests", ["drill_id"])
    op.drop_constraint(op.f("ck_requests_not_to_own_country"), "requests", type_="check")
    op.create_check_constraint(
        op.f("ck_requests_not_to_own_country"),
        "requests",
        "requesting_country <> target_country OR drill_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_requests_not_to_own_country"), "requests", type_="check")
    # NOT VALID: drills already sent stay (their history and audit trail refer to them); only
    # new rows are held to the old rule.
    op.execute(
        "ALTER TABLE requests ADD CONSTRAINT ck_requests_not_to_own_country "
        "CHECK (requesting_country <> target_country) NOT VALID"
    )
    op.drop_constraint(op.f("uq_requests_drill_id"), "requests", type_="unique")
    op.drop_constraint(op.f("fk_requests_drill_id_drills"), "requests", type_="foreignkey")
    op.drop_column("requests", "drill_id")
    op.drop_index("ix_drills_country_due", table_name="drills")
    op.drop_index("ix_drills_pending_due", table_name="drills")
    op.drop_table("drills")
