"""The outbox (every message that leaves relay247, with its attempts), webhook endpoints,
people's contact methods and one-time acknowledge links; alert repeats as a deadline kind.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:56:25.811345
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_methods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "email",
                "web_push",
                "gateway",
                name="contactkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("label", sa.String(length=100), server_default="", nullable=False),
        sa.Column("address", sa.String(length=2048), nullable=False),
        sa.Column("keys", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("verification_hash", sa.String(length=64), nullable=True),
        sa.Column("verification_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_contact_methods_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_methods")),
    )
    op.create_index(
        "ix_contact_methods_principal_active",
        "contact_methods",
        ["principal_id"],
        unique=False,
        postgresql_where="verified_at IS NOT NULL AND disabled_at IS NULL",
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "route",
            sa.Enum(
                "webhook",
                "email",
                "web_push",
                "gateway",
                name="route",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("destination_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("principal_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                "cancelled",
                name="messagestatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "due_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_outbox_messages_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        "ix_outbox_messages_destination",
        "outbox_messages",
        ["destination_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_outbox_messages_due",
        "outbox_messages",
        ["due_at"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        "ix_outbox_messages_request_pending",
        "outbox_messages",
        ["request_id"],
        unique=False,
        postgresql_where="status = 'pending' AND request_id IS NOT NULL",
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("channels", sa.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column(
            "event_types", sa.ARRAY(sa.String(length=64)), server_default="{}", nullable=False
        ),
        sa.Column(
            "tlp_ceiling",
            sa.Enum(
                "CLEAR",
                "GREEN",
                "AMBER",
                "AMBER+STRICT",
                "RED",
                name="webhook_tlp_ceiling",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret", sa.LargeBinary(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_webhook_endpoints_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["principals.id"],
            name=op.f("fk_webhook_endpoints_created_by_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_agency_id"), "webhook_endpoints", ["agency_id"], unique=False
    )
    op.create_index(
        "ix_webhook_endpoints_channels",
        "webhook_endpoints",
        ["channels"],
        unique=False,
        postgresql_using="gin",
        postgresql_where="disabled_at IS NULL",
    )
    op.create_table(
        "ack_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_ack_links_principal_id_principals")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_ack_links_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_ack_links")),
    )
    op.create_table(
        "outbox_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.SmallInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_outbox_attempts_message_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attempts")),
    )
    op.create_index(
        op.f("ix_outbox_attempts_message_id"), "outbox_attempts", ["message_id"], unique=False
    )

    _deadline_kinds(*_KINDS, "alert_repeat")
    # Every step of every stored policy says how often its holder is alerted again (the
    # code's default, 300 s), so that a stored document reads as what it means.
    op.execute(_STEPS_WITH.format(step="'{\"alert_repeat_seconds\": 300}'::jsonb || step"))


_STEPS_WITH = """
UPDATE escalation_policies SET document = jsonb_set(document, '{{ack_steps}}', (
    SELECT coalesce(jsonb_agg(rule || jsonb_build_object('steps', (
        SELECT jsonb_agg({step}) FROM jsonb_array_elements(rule -> 'steps') AS s(step)
    ))), '[]'::jsonb)
    FROM jsonb_array_elements(document -> 'ack_steps') AS r(rule)
))
"""


_KINDS = ("ack", "response_warning", "response_breach", "reminder")


def _deadline_kinds(*kinds: str) -> None:
    op.drop_constraint(op.f("ck_request_deadlines_deadlinekind"), "request_deadlines")
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    op.create_check_constraint(
        op.f("ck_request_deadlines_deadlinekind"), "request_deadlines", f"kind IN ({listed})"
    )


def downgrade() -> None:
    op.execute(_STEPS_WITH.format(step="step - 'alert_repeat_seconds'"))
    op.execute("DELETE FROM request_deadlines WHERE kind = 'alert_repeat'")
    _deadline_kinds(*_KINDS)
    op.drop_index(
        "ix_webhook_endpoints_channels",
        table_name="webhook_endpoints",
        postgresql_using="gin",
        postgresql_where="disabled_at IS NULL",
    )
    op.drop_index(op.f("ix_outbox_attempts_message_id"), table_name="outbox_attempts")
    op.drop_table("outbox_attempts")
    op.drop_table("ack_links")
    op.drop_index(op.f("ix_webhook_endpoints_agency_id"), table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
    op.drop_index(
        "ix_outbox_messages_request_pending",
        table_name="outbox_messages",
        postgresql_where="status = 'pending' AND request_id IS NOT NULL",
    )
    op.drop_index(
        "ix_outbox_messages_due",
        table_name="outbox_messages",
        postgresql_where="status = 'pending'",
    )
    op.drop_index("ix_outbox_messages_destination", table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_index(
        "ix_contact_methods_principal_active",
        table_name="contact_methods",
        postgresql_where="verified_at IS NOT NULL AND disabled_at IS NULL",
    )
    op.drop_table("contact_methods")
