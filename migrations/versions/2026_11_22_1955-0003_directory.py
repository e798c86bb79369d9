"""The directory: contact-point profiles, access agreements, rosters, escalation policies,
principals that can be disabled, token rotation and last use, and request assignment.

Data: existing requests count as assigned to their desk since they were created; every
existing national unit gets an all-scope agreement, so senders that worked keep working
until their NCB narrows it; the network-wide default escalation policy is written.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:55:14.587049
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The legal default of app/deadlines/escalation_policy.py as it stood at this revision (a migration
# never imports app code that may change after it).
LEGAL_DEFAULT = {
    "ack_steps": [
        {
            "priority": "emergency",
            "type": None,
            "steps": [
                {"target": "on_duty_primary", "ack_timeout_seconds": 300},
                {"target": "on_duty_backup", "ack_timeout_seconds": 300},
                {"target": "ncb", "ack_timeout_seconds": 600},
                {"target": "global_desk", "ack_timeout_seconds": 900},
            ],
        },
        {
            "priority": "urgent",
            "type": None,
            "steps": [
                {"target": "on_duty_primary", "ack_timeout_seconds": 1800},
                {"target": "on_duty_backup", "ack_timeout_seconds": 1800},
                {"target": "ncb", "ack_timeout_seconds": 3600},
                {"target": "global_desk", "ack_timeout_seconds": 3600},
            ],
        },
        {
            "priority": "routine",
            "type": None,
            "steps": [
                {"target": "on_duty_primary", "ack_timeout_seconds": 14400},
                {"target": "on_duty_backup", "ack_timeout_seconds": 14400},
                {"target": "ncb", "ack_timeout_seconds": 28800},
                {"target": "global_desk", "ack_timeout_seconds": 28800},
            ],
        },
    ],
    "response_times": [
        {"type": "emergency_disclosure", "priority": None, "respond_within_hours": 8},
        {"type": None, "priority": "emergency", "respond_within_hours": 8},
        {"type": None, "priority": "urgent", "respond_within_hours": 72},
        {"type": None, "priority": "routine", "respond_within_hours": 240},
    ],
    "preservation_days": 60,
    "preservation_extension_days": 30,
}


def upgrade() -> None:
    op.create_table(
        "escalation_policies",
        sa.Column("scope", sa.CHAR(length=2), nullable=False),
        sa.Column("country_code", sa.CHAR(length=2), nullable=True),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "(scope = '**' AND country_code IS NULL) OR scope = country_code",
            name=op.f("ck_escalation_policies_scope_is_country"),
        ),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["countries.code"],
            name=op.f("fk_escalation_policies_country_code_countries"),
        ),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_escalation_policies")),
        sa.UniqueConstraint("country_code", name=op.f("uq_escalation_policies_country_code")),
    )
    op.create_table(
        "access_agreements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("country_code", sa.CHAR(length=2), nullable=False),
        sa.Column("request_types", postgresql.ARRAY(sa.String(length=32)), nullable=True),
        sa.Column("target_countries", postgresql.ARRAY(sa.CHAR(length=2)), nullable=True),
        sa.Column("priorities", postgresql.ARRAY(sa.String(length=32)), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("conditions", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
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
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from",
            name=op.f("ck_access_agreements_valid_until_after_from"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_access_agreements_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["countries.code"],
            name=op.f("fk_access_agreements_country_code_countries"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["principals.id"],
            name=op.f("fk_access_agreements_created_by_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_agreements")),
    )
    op.create_index(
        op.f("ix_access_agreements_agency_id"), "access_agreements", ["agency_id"], unique=False
    )
    op.create_index(
        op.f("ix_access_agreements_country_code"),
        "access_agreements",
        ["country_code"],
        unique=False,
    )
    op.create_table(
        "roster_overrides",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("country_code", sa.CHAR(length=2), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cover",
                "swap",
                "leave",
                name="overridekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "layer",
            sa.Enum(
                "primary",
                "backup",
                name="layer",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("other_principal_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(kind = 'leave') = (layer IS NULL)",
            name=op.f("ck_roster_overrides_layer_unless_leave"),
        ),
        sa.CheckConstraint(
            "(kind = 'swap') = (other_principal_id IS NOT NULL)",
            name=op.f("ck_roster_overrides_swap_has_partner"),
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_roster_overrides_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["countries.code"],
            name=op.f("fk_roster_overrides_country_code_countries"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["principals.id"],
            name=op.f("fk_roster_overrides_created_by_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["other_principal_id"],
            ["principals.id"],
            name=op.f("fk_roster_overrides_other_principal_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_roster_overrides_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_overrides")),
    )
    op.create_index(
        op.f("ix_roster_overrides_country_code"), "roster_overrides", ["country_code"], unique=False
    )
    op.create_table(
        "roster_rotations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("country_code", sa.CHAR(length=2), nullable=False),
        sa.Column(
            "layer",
            sa.Enum(
                "primary",
                "backup",
                name="layer",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("participants", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("starts_local", sa.DateTime(), nullable=False),
        sa.Column(
            "cadence",
            sa.Enum(
                "daily",
                "weekly",
                "hours",
                name="cadence",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("hours", sa.SmallInteger(), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(cadence = 'hours') = (hours IS NOT NULL)",
            name=op.f("ck_roster_rotations_hours_iff_cadence"),
        ),
        sa.CheckConstraint(
            "cardinality(participants) > 0", name=op.f("ck_roster_rotations_has_participants")
        ),
        sa.CheckConstraint(
            "hours IS NULL OR hours BETWEEN 1 AND 168", name=op.f("ck_roster_rotations_hours_range")
        ),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["countries.code"],
            name=op.f("fk_roster_rotations_country_code_countries"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["principals.id"],
            name=op.f("fk_roster_rotations_created_by_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_rotations")),
    )
    op.create_index(
        op.f("ix_roster_rotations_country_code"), "roster_rotations", ["country_code"], unique=False
    )
    op.add_column(
        "api_tokens", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("api_tokens", sa.Column("replaced_by", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_api_tokens_replaced_by_api_tokens"),
        "api_tokens",
        "api_tokens",
        ["replaced_by"],
        ["id"],
    )
    op.add_column(
        "countries",
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
    )
    op.add_column(
        "countries",
        sa.Column(
            "languages", postgresql.ARRAY(sa.String(length=16)), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "countries",
        sa.Column(
            "direct_types",
            postgresql.ARRAY(sa.String(length=32)),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column(
        "countries",
        sa.Column(
            "mla_types", postgresql.ARRAY(sa.String(length=32)), server_default="{}", nullable=False
        ),
    )
    op.add_column("countries", sa.Column("desk_phone", sa.String(length=40), nullable=True))
    op.add_column("countries", sa.Column("desk_email", sa.String(length=254), nullable=True))
    op.add_column("countries", sa.Column("notes", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "countries",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("principals", sa.Column("email", sa.String(length=254), nullable=True))
    op.add_column("principals", sa.Column("phone", sa.String(length=40), nullable=True))
    op.add_column("principals", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("requests", sa.Column("assigned_to", sa.Uuid(), nullable=True))
    op.add_column(
        "requests",
        sa.Column(
            "assignment",
            sa.Enum(
                "on_duty",
                "desk",
                "reassigned",
                name="assignment",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="desk",
            nullable=False,
        ),
    )
    op.add_column(
        "requests",
        sa.Column(
            "assigned_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_requests_assigned_created",
        "requests",
        ["assigned_to", "created_at", "id"],
        unique=False,
    )
    op.create_foreign_key(
        op.f("fk_requests_assigned_to_principals"),
        "requests",
        "principals",
        ["assigned_to"],
        ["id"],
    )

    op.execute("UPDATE requests SET assigned_at = created_at")
    op.execute(
        """
        INSERT INTO access_agreements (id, agency_id, country_code, valid_from, conditions)
        SELECT gen_random_uuid(), id, country_code, now(),
               'Granted by the 0003 upgrade so that existing senders keep working: review it.'
        FROM agencies WHERE kind = 'unit'
        """
    )
    policies = sa.table(
        "escalation_policies",
        sa.column("scope", sa.CHAR(2)),
        sa.column("document", postgresql.JSONB()),
    )
    op.bulk_insert(policies, [{"scope": "**", "document": LEGAL_DEFAULT}])


def downgrade() -> None:
    op.drop_constraint(op.f("fk_requests_assigned_to_principals"), "requests", type_="foreignkey")
    op.drop_index("ix_requests_assigned_created", table_name="requests")
    op.drop_column("requests", "assigned_at")
    op.drop_column("requests", "assignment")
    op.drop_column("requests", "assigned_to")
    op.drop_column("principals", "disabled_at")
    op.drop_column("principals", "phone")
    op.drop_column("principals", "email")
    op.drop_column("countries", "updated_at")
    op.drop_column("countries", "notes")
    op.drop_column("countries", "desk_email")
    op.drop_column("countries", "desk_phone")
    op.drop_column("countries", "mla_types")
    op.drop_column("countries", "direct_types")
    op.drop_column("countries", "languages")
    op.drop_column("countries", "time_zone")
    op.drop_constraint(
        op.f("fk_api_tokens_replaced_by_api_tokens"), "api_tokens", type_="foreignkey"
    )
    op.drop_column("api_tokens", "replaced_by")
    op.drop_column("api_tokens", "last_used_at")
    op.drop_index(op.f("ix_roster_rotations_country_code"), table_name="roster_rotations")
    op.drop_table("roster_rotations")
    op.drop_index(op.f("ix_roster_overrides_country_code"), table_name="roster_overrides")
    op.drop_table("roster_overrides")
    op.drop_index(op.f("ix_access_agreements_country_code"), table_name="access_agreements")
    op.drop_index(op.f("ix_access_agreements_agency_id"), table_name="access_agreements")
    op.drop_table("access_agreements")
    op.drop_table("escalation_policies")
