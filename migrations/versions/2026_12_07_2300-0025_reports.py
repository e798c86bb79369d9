"""Cyber analytical reports (app/reports/): each report's PDF and CSV and the manifest the
service signed over their hashes; one periodic report per scope, kind and period; a report
never updated.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(7), nullable=False),
        sa.Column("country", sa.CHAR(2), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("csv", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.CHAR(64), nullable=False),
        sa.Column("csv_sha256", sa.CHAR(64), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.CHAR(64), nullable=False),
        sa.CheckConstraint(
            "kind IN ('weekly', 'monthly', 'on_demand')", name=op.f("ck_reports_kind_known")
        ),
        sa.CheckConstraint("period_start < period_end", name=op.f("ck_reports_period_ordered")),
        sa.CheckConstraint(
            "(scope = 'network') = (country IS NULL) AND (country IS NULL OR scope = country)",
            name=op.f("ck_reports_scope_is_country"),
        ),
        sa.ForeignKeyConstraint(
            ["country"], ["countries.code"], name=op.f("fk_reports_country_countries")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["principals.id"], name=op.f("fk_reports_requested_by_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index(
        "uq_reports_periodic",
        "reports",
        ["scope", "kind", "period_start"],
        unique=True,
        postgresql_where=sa.text("kind <> 'on_demand'"),
    )
    op.create_index("ix_reports_scope_created", "reports", ["scope", "created_at", "id"])
    # A report is written once: what was signed and served is never rewritten in place (a
    # report to be withdrawn will be deleted, by a rule yet to come, never changed).
    op.execute(
        """
        CREATE FUNCTION reports_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'reports are written once: UPDATE of report % refused', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER reports_written_once BEFORE UPDATE ON reports "
        "FOR EACH ROW EXECUTE FUNCTION reports_refuse_update()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER reports_written_once ON reports")
    op.execute("DROP FUNCTION reports_refuse_update()")
    op.drop_index("ix_reports_scope_created", table_name="reports")
    op.drop_index("uq_reports_periodic", table_name="reports")
    op.drop_table("reports")
