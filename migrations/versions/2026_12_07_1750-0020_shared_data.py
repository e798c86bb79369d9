"""Shared cybercrime data: partner agreements, TAXII collections (with the one gateway
collection), submissions, the store of STIX objects, indicator values, requests' identifiers
and their matches; and the partner role.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:50:54.570077
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

_ROLES = ("unit", "contact_point", "ncb", "gs", "auditor", "national_auditor", "admin")
GATEWAY_COLLECTION_ID = "5e1a7c0e-2a1f-4d4b-9c57-000000000001"


def _role_check(roles: Sequence[str]) -> str:
    return "role IN (" + ", ".join(f"'{role}'" for role in roles) + ")"


revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_collections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "inbox",
                "gateway",
                "share",
                name="collectionkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("owner_agency_id", sa.Uuid(), nullable=True),
        sa.Column("audience", postgresql.ARRAY(sa.CHAR(length=2)), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'gateway') = (owner_agency_id IS NULL)",
            name=op.f("ck_data_collections_only_gateway_unowned"),
        ),
        sa.CheckConstraint(
            "kind = 'share' OR audience IS NULL",
            name=op.f("ck_data_collections_audience_only_for_shares"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["principals.id"],
            name=op.f("fk_data_collections_created_by_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_agency_id"],
            ["agencies.id"],
            name=op.f("fk_data_collections_owner_agency_id_agencies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_collections")),
    )
    op.create_index(
        "uq_data_collections_inbox",
        "data_collections",
        ["owner_agency_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'inbox'"),
    )
    op.create_table(
        "partner_agreements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_agency_id", sa.Uuid(), nullable=False),
        sa.Column("object_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("daily_object_limit", sa.Integer(), nullable=False),
        sa.Column(
            "handling_ceiling",
            sa.Enum(
                "CLEAR",
                "GREEN",
                "AMBER",
                "AMBER+STRICT",
                "RED",
                name="partner_handling_ceiling",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "unmarked",
            sa.Enum(
                "refuse",
                "default",
                name="unmarkedobjects",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "default_handling",
            sa.Enum(
                "CLEAR",
                "GREEN",
                "AMBER",
                "AMBER+STRICT",
                "RED",
                name="partner_default_handling",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(unmarked = 'default') = (default_handling IS NOT NULL)",
            name=op.f("ck_partner_agreements_default_handling_when_unmarked_default"),
        ),
        sa.CheckConstraint(
            "daily_object_limit > 0", name=op.f("ck_partner_agreements_daily_object_limit_positive")
        ),
        sa.CheckConstraint(
            "retention_days BETWEEN 1 AND 36500",
            name=op.f("ck_partner_agreements_retention_days_range"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_agency_id"],
            ["agencies.id"],
            name=op.f("fk_partner_agreements_partner_agency_id_agencies"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["principals.id"],
            name=op.f("fk_partner_agreements_updated_by_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_agreements")),
        sa.UniqueConstraint(
            "partner_agency_id", name=op.f("uq_partner_agreements_partner_agency_id")
        ),
    )
    op.create_table(
        "data_submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "failures", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_data_submissions_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["data_collections.id"],
            name=op.f("fk_data_submissions_collection_id_data_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_data_submissions_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_submissions")),
    )
    op.create_index(
        "ix_data_submissions_agency", "data_submissions", ["agency_id", "created_at"], unique=False
    )
    op.create_table(
        "request_identifiers",
        sa.Column(
            "kind",
            sa.Enum(
                "ip",
                "domain",
                "url",
                "email",
                "account",
                "phone",
                "crypto_address",
                "hash",
                name="identifierkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_identifiers_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "value", "request_id", name=op.f("pk_request_identifiers")),
    )
    op.create_index(
        "ix_request_identifiers_request", "request_identifiers", ["request_id"], unique=False
    )
    op.create_table(
        "stix_objects",
        sa.Column("row_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=True),
        sa.Column(
            "origin",
            sa.Enum(
                "submitted",
                "accepted",
                "feedback",
                name="objectorigin",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("source_row_id", sa.BigInteger(), nullable=True),
        sa.Column("stix_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("spec_version", sa.String(length=8), nullable=False),
        sa.Column("version", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "date_added",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("object", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("object_hash", sa.CHAR(length=64), nullable=False),
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
        sa.Column(
            "triage",
            sa.Enum(
                "quarantined",
                "accepted",
                "rejected",
                "info_requested",
                name="triage",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=1000), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("legal_hold_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_hold_by", sa.Uuid(), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(origin = 'accepted') = (source_row_id IS NOT NULL)",
            name=op.f("ck_stix_objects_accepted_has_source"),
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["data_collections.id"],
            name=op.f("fk_stix_objects_collection_id_data_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["principals.id"], name=op.f("fk_stix_objects_decided_by_principals")
        ),
        sa.ForeignKeyConstraint(
            ["legal_hold_by"],
            ["principals.id"],
            name=op.f("fk_stix_objects_legal_hold_by_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["source_row_id"],
            ["stix_objects.row_id"],
            name=op.f("fk_stix_objects_source_row_id_stix_objects"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["data_submissions.id"],
            name=op.f("fk_stix_objects_submission_id_data_submissions"),
        ),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_stix_objects")),
        sa.UniqueConstraint(
            "collection_id",
            "stix_id",
            "version",
            name=op.f("uq_stix_objects_collection_id_stix_id_version"),
        ),
    )
    op.create_index(
        "ix_stix_objects_added",
        "stix_objects",
        ["collection_id", "date_added", "row_id"],
        unique=False,
    )
    op.create_index(
        "ix_stix_objects_purge_due",
        "stix_objects",
        ["purge_after"],
        unique=False,
        postgresql_where=sa.text("purged_at IS NULL AND legal_hold_at IS NULL"),
    )
    op.create_index(
        "ix_stix_objects_quarantined",
        "stix_objects",
        ["date_added"],
        unique=False,
        postgresql_where=sa.text("triage = 'quarantined'"),
    )
    op.create_index("ix_stix_objects_stix_id", "stix_objects", ["stix_id"], unique=False)
    op.create_index("ix_stix_objects_submission", "stix_objects", ["submission_id"], unique=False)
    op.create_table(
        "indicator_values",
        sa.Column(
            "kind",
            sa.Enum(
                "ip",
                "domain",
                "url",
                "email",
                "account",
                "phone",
                "crypto_address",
                "hash",
                name="identifierkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("object_row_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_row_id"],
            ["stix_objects.row_id"],
            name=op.f("fk_indicator_values_object_row_id_stix_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "value", "object_row_id", name=op.f("pk_indicator_values")),
    )
    op.create_index(
        "ix_indicator_values_object", "indicator_values", ["object_row_id"], unique=False
    )
    op.create_table(
        "request_matches",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("object_row_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ip",
                "domain",
                "url",
                "email",
                "account",
                "phone",
                "crypto_address",
                "hash",
                name="identifierkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column(
            "found_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["object_row_id"],
            ["stix_objects.row_id"],
            name=op.f("fk_request_matches_object_row_id_stix_objects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_matches_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "object_row_id", name=op.f("pk_request_matches")),
    )
    op.create_index("ix_request_matches_object", "request_matches", ["object_row_id"], unique=False)
    op.execute(
        sa.text(
            "INSERT INTO data_collections (id, kind, title, description) "
            "VALUES (CAST(:id AS uuid), 'gateway', 'Project Gateway', :description)"
        ).bindparams(
            id=GATEWAY_COLLECTION_ID,
            description="Data from private partners, accepted by the global desk; "
            "read by every member country",
        )
    )
    op.drop_constraint(op.f("ck_principals_role"), "principals", type_="check")
    op.create_check_constraint(
        op.f("ck_principals_role"), "principals", _role_check((*_ROLES, "partner"))
    )


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM principals WHERE role = 'partner') THEN "
        "RAISE EXCEPTION 'principals with role partner exist: disable and remove them first'; "
        "END IF; END $$"
    )
    op.drop_constraint(op.f("ck_principals_role"), "principals", type_="check")
    op.create_check_constraint(op.f("ck_principals_role"), "principals", _role_check(_ROLES))
    op.drop_index("ix_request_matches_object", table_name="request_matches")
    op.drop_table("request_matches")
    op.drop_index("ix_indicator_values_object", table_name="indicator_values")
    op.drop_table("indicator_values")
    op.drop_index("ix_stix_objects_submission", table_name="stix_objects")
    op.drop_index("ix_stix_objects_stix_id", table_name="stix_objects")
    op.drop_index(
        "ix_stix_objects_quarantined",
        table_name="stix_objects",
        postgresql_where=sa.text("triage = 'quarantined'"),
    )
    op.drop_index(
        "ix_stix_objects_purge_due",
        table_name="stix_objects",
        postgresql_where=sa.text("purged_at IS NULL AND legal_hold_at IS NULL"),
    )
    op.drop_index("ix_stix_objects_added", table_name="stix_objects")
    op.drop_table("stix_objects")
    op.drop_index("ix_request_identifiers_request", table_name="request_identifiers")
    op.drop_table("request_identifiers")
    op.drop_index("ix_data_submissions_agency", table_name="data_submissions")
    op.drop_table("data_submissions")
    op.drop_table("partner_agreements")
    op.drop_index(
        "uq_data_collections_inbox",
        table_name="data_collections",
        postgresql_where=sa.text("kind = 'inbox'"),
    )
    op.drop_table("data_collections")
