"""The request's whole life: transitions, messages, evidence files and their bytes, share
permissions, handling notes, versions, retention and legal hold.

Data: existing requests get the retention of their type as it stood at this revision, their
assignee's agency, a final time when already final, and a history that starts with their
submission (and their acknowledgement, when they have one).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 22:41:44.552636
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Retention by type as app/retention.py stood at this revision (a migration never
# imports app code that may change after it).
RETENTION_DAYS = {
    "preservation": 90,
    "emergency_disclosure": 180,
    "mutual_assistance": 730,
}
OTHER_TYPES_RETENTION_DAYS = 365


def _backfill() -> None:
    for kind, days in RETENTION_DAYS.items():
        op.execute(
            sa.text("UPDATE requests SET retention_days = :days WHERE type = :kind").bindparams(
                days=days, kind=kind
            )
        )
    op.execute(
        sa.text(
            "UPDATE requests SET retention_days = :days WHERE retention_days IS NULL"
        ).bindparams(days=OTHER_TYPES_RETENTION_DAYS)
    )
    op.execute(
        "UPDATE requests r SET assigned_agency_id = p.agency_id FROM principals p "
        "WHERE p.id = r.assigned_to"
    )
    op.execute(
        "UPDATE requests SET closed_at = updated_at "
        "WHERE status IN ('closed', 'declined', 'cancelled')"
    )
    op.execute(
        "INSERT INTO request_transitions "
        "(request_id, action, from_status, to_status, side, actor_principal_id, actor_agency_id, at) "
        "SELECT id, NULL, NULL, 'submitted', 'requester', created_by, requesting_agency_id, created_at "
        "FROM requests ORDER BY created_at, id"
    )
    op.execute(
        "INSERT INTO request_transitions "
        "(request_id, action, from_status, to_status, side, actor_principal_id, actor_agency_id, at) "
        "SELECT r.id, 'acknowledge', 'submitted', 'acknowledged', 'target', r.acknowledged_by, "
        "p.agency_id, r.acknowledged_at "
        "FROM requests r JOIN principals p ON p.id = r.acknowledged_by "
        "ORDER BY r.acknowledged_at, r.id"
    )


def upgrade() -> None:
    op.create_table(
        "blob_chunks",
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("storage_key", "seq", name=op.f("pk_blob_chunks")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "side",
            sa.Enum(
                "requester",
                "target",
                name="side",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("author_principal_id", sa.Uuid(), nullable=False),
        sa.Column("author_agency_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_hash", sa.CHAR(length=64), nullable=False),
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
        sa.Column("onward_use", postgresql.ARRAY(sa.String(length=2)), nullable=False),
        sa.Column("handling_note", sa.String(length=500), nullable=True),
        sa.Column(
            "source_reliability",
            sa.Enum(
                "A",
                "B",
                "C",
                "X",
                name="sourcereliability",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("information_accuracy", sa.SmallInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "information_accuracy BETWEEN 1 AND 4", name=op.f("ck_messages_information_accuracy")
        ),
        sa.ForeignKeyConstraint(
            ["author_agency_id"],
            ["agencies.id"],
            name=op.f("fk_messages_author_agency_id_agencies"),
        ),
        sa.ForeignKeyConstraint(
            ["author_principal_id"],
            ["principals.id"],
            name=op.f("fk_messages_author_principal_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_messages_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("request_id", "seq", name=op.f("uq_messages_request_id_seq")),
    )
    op.create_table(
        "request_transitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "acknowledge",
                "start",
                "request_info",
                "provide_info",
                "respond",
                "decline",
                "close",
                "cancel",
                "reopen",
                "receive",
                name="requestaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "from_status",
            sa.Enum(
                "submitted",
                "delivered",
                "acknowledged",
                "in_progress",
                "info_requested",
                "responded",
                "closed",
                "declined",
                "cancelled",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "submitted",
                "delivered",
                "acknowledged",
                "in_progress",
                "info_requested",
                "responded",
                "closed",
                "declined",
                "cancelled",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "side",
            sa.Enum(
                "requester",
                "target",
                name="side",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("actor_principal_id", sa.Uuid(), nullable=True),
        sa.Column("actor_agency_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_agency_id"],
            ["agencies.id"],
            name=op.f("fk_request_transitions_actor_agency_id_agencies"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_principal_id"],
            ["principals.id"],
            name=op.f("fk_request_transitions_actor_principal_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_transitions_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_transitions")),
    )
    op.create_index(
        "ix_request_transitions_request", "request_transitions", ["request_id", "id"], unique=False
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column(
            "side",
            sa.Enum(
                "requester",
                "target",
                name="side",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("uploaded_by", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("declared_type", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.CHAR(length=64), nullable=False),
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
        sa.Column("onward_use", postgresql.ARRAY(sa.String(length=2)), nullable=False),
        sa.Column("handling_note", sa.String(length=500), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("shared_from", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("size >= 0", name=op.f("ck_files_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_files_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_files_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_files_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["shared_from"], ["files.id"], name=op.f("fk_files_shared_from_files")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["principals.id"], name=op.f("fk_files_uploaded_by_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    op.create_index(
        "ix_files_request_created", "files", ["request_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_files_storage_key", "files", ["storage_key"], unique=False)
    op.create_table(
        "share_permissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("granted_by", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_share_permissions_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_share_permissions_file_id_files")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["principals.id"],
            name=op.f("fk_share_permissions_granted_by_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_share_permissions_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_permissions")),
        sa.UniqueConstraint(
            "file_id", "request_id", name=op.f("uq_share_permissions_file_id_request_id")
        ),
    )
    op.add_column("requests", sa.Column("handling_note", sa.String(length=500), nullable=True))
    op.add_column("requests", sa.Column("assigned_agency_id", sa.Uuid(), nullable=True))
    op.add_column(
        "requests", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("requests", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("requests", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column("requests", sa.Column("legal_hold_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("requests", sa.Column("legal_hold_by", sa.Uuid(), nullable=True))
    op.add_column("requests", sa.Column("legal_hold_reason", sa.String(length=500), nullable=True))
    op.add_column("requests", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.alter_column("requests", "subject", existing_type=sa.VARCHAR(length=300), nullable=True)
    op.alter_column("requests", "details", existing_type=sa.TEXT(), nullable=True)
    op.alter_column(
        "requests",
        "identifiers",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=True,
    )
    op.alter_column("requests", "legal_basis", existing_type=sa.VARCHAR(length=500), nullable=True)
    _backfill()
    op.alter_column("requests", "retention_days", nullable=False)
    op.create_check_constraint(
        "retention_days_range", "requests", "retention_days BETWEEN 1 AND 36500"
    )
    op.create_check_constraint(
        "legal_hold_complete", "requests", "(legal_hold_at IS NULL) = (legal_hold_by IS NULL)"
    )
    # Chunks are stored as they come (files are mostly compressed already): no TOAST
    # compression attempt on every megabyte.
    op.execute("ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_index(
        "ix_requests_purge_due",
        "requests",
        ["closed_at"],
        unique=False,
        postgresql_where="purged_at IS NULL AND closed_at IS NOT NULL",
    )
    op.create_foreign_key(
        op.f("fk_requests_legal_hold_by_principals"),
        "requests",
        "principals",
        ["legal_hold_by"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_requests_assigned_agency_id_agencies"),
        "requests",
        "agencies",
        ["assigned_agency_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_requests_assigned_agency_id_agencies"), "requests", type_="foreignkey"
    )
    op.drop_constraint(op.f("fk_requests_legal_hold_by_principals"), "requests", type_="foreignkey")
    op.drop_index(
        "ix_requests_purge_due",
        table_name="requests",
        postgresql_where="purged_at IS NULL AND closed_at IS NOT NULL",
    )
    op.alter_column("requests", "legal_basis", existing_type=sa.VARCHAR(length=500), nullable=False)
    op.alter_column(
        "requests",
        "identifiers",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=False,
    )
    op.alter_column("requests", "details", existing_type=sa.TEXT(), nullable=False)
    op.alter_column("requests", "subject", existing_type=sa.VARCHAR(length=300), nullable=False)
    op.drop_column("requests", "purged_at")
    op.drop_column("requests", "legal_hold_reason")
    op.drop_column("requests", "legal_hold_by")
    op.drop_column("requests", "legal_hold_at")
    op.drop_column("requests", "retention_days")
    op.drop_column("requests", "closed_at")
    op.drop_column("requests", "version")
    op.drop_column("requests", "assigned_agency_id")
    op.drop_column("requests", "handling_note")
    op.drop_table("share_permissions")
    op.drop_index("ix_files_storage_key", table_name="files")
    op.drop_index("ix_files_request_created", table_name="files")
    op.drop_table("files")
    op.drop_index("ix_request_transitions_request", table_name="request_transitions")
    op.drop_table("request_transitions")
    op.drop_table("messages")
    op.drop_table("blob_chunks")
