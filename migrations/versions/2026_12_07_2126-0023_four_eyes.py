"""Four-eyes for emergency disclosure: the requests held for a second officer's approval
(approvals), the agreement's and the country's switch that asks for it (four_eyes), and on a
request sent after approval, when and by which role it was approved.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "awaiting_approval",
                "approved",
                "refused",
                "expired",
                "cancelled",
                name="approvalstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "required_by",
            sa.Enum(
                "agreement",
                "country_policy",
                name="approvalrequirement",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "type",
            sa.Enum(
                "preservation",
                "traffic_data",
                "subscriber_info",
                "emergency_disclosure",
                "mutual_assistance",
                "technical_assistance",
                "incident_support",
                "information_sharing",
                name="requesttype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
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
        sa.Column("requesting_agency_id", sa.Uuid(), nullable=False),
        sa.Column("requesting_country", sa.CHAR(length=2), nullable=False),
        sa.Column("target_country", sa.CHAR(length=2), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("headline", sa.String(length=120), nullable=True),
        sa.Column(
            "handling_code",
            sa.Enum(
                "CLEAR",
                "GREEN",
                "AMBER",
                "AMBER+STRICT",
                "RED",
                name="handlingcode",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("draft", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("content_hash", sa.CHAR(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column(
            "decided_role",
            sa.Enum(
                "unit",
                "contact_point",
                "ncb",
                "gs",
                "auditor",
                "national_auditor",
                "admin",
                "partner",
                name="approval_decided_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["principals.id"], name=op.f("fk_approvals_created_by_principals")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["principals.id"], name=op.f("fk_approvals_decided_by_principals")
        ),
        sa.ForeignKeyConstraint(
            ["requesting_agency_id"],
            ["agencies.id"],
            name=op.f("fk_approvals_requesting_agency_id_agencies"),
        ),
        sa.ForeignKeyConstraint(
            ["requesting_country"],
            ["countries.code"],
            name=op.f("fk_approvals_requesting_country_countries"),
        ),
        sa.ForeignKeyConstraint(
            ["target_country"],
            ["countries.code"],
            name=op.f("fk_approvals_target_country_countries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(
        "ix_approvals_agency_created",
        "approvals",
        ["requesting_agency_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_approvals_expiry",
        "approvals",
        ["expires_at"],
        unique=False,
        postgresql_where="status = 'awaiting_approval'",
    )
    op.create_index(
        "ix_approvals_sending_created",
        "approvals",
        ["requesting_country", "created_at", "id"],
        unique=False,
    )
    op.add_column(
        "access_agreements",
        sa.Column("four_eyes", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "countries", sa.Column("four_eyes", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("requests", sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "requests",
        sa.Column(
            "approved_by_role",
            sa.Enum(
                "unit",
                "contact_point",
                "ncb",
                "gs",
                "auditor",
                "national_auditor",
                "admin",
                "partner",
                name="request_approved_by_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
    )

    # A held submission's Idempotency-Key names its approval until a request exists.
    op.add_column("idempotency_keys", sa.Column("approval_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_idempotency_keys_approval_id_approvals"),
        "idempotency_keys",
        "approvals",
        ["approval_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_idempotency_keys_approval_id_approvals"), "idempotency_keys", type_="foreignkey"
    )
    op.drop_column("idempotency_keys", "approval_id")
    op.drop_column("requests", "approved_by_role")
    op.drop_column("requests", "approved_at")
    op.drop_column("countries", "four_eyes")
    op.drop_column("access_agreements", "four_eyes")
    op.drop_index("ix_approvals_sending_created", table_name="approvals")
    op.drop_index(
        "ix_approvals_expiry",
        table_name="approvals",
        postgresql_where="status = 'awaiting_approval'",
    )
    op.drop_index("ix_approvals_agency_created", table_name="approvals")
    op.drop_table("approvals")
