"""Signed checkpoints of the audit chain: the published signing keys and the checkpoints.

Both tables are append-only like the entries (docs/audit-chain.md): a trigger refuses DELETE,
TRUNCATE and UPDATE of a checkpoint, and of a key every UPDATE but its retirement (retired_at
set once, nothing else changed), so the service's own role cannot rewrite what it signed or
un-publish a key that old checkpoints need.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_signing_keys",
        sa.Column("key_id", sa.CHAR(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), server_default="Ed25519", nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "octet_length(public_key) = 32", name=op.f("ck_audit_signing_keys_ed25519_length")
        ),
        sa.CheckConstraint(
            "key_id ~ '^[0-9a-f]{64}$'", name=op.f("ck_audit_signing_keys_key_id_hex")
        ),
        sa.CheckConstraint(
            "retired_at IS NULL OR retired_at >= valid_from",
            name=op.f("ck_audit_signing_keys_retired_after"),
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_audit_signing_keys")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("v", sa.SmallInteger(), nullable=False),
        sa.Column("chain_position", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.CHAR(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "chain_hash ~ '^[0-9a-f]{64}$'", name=op.f("ck_audit_checkpoints_hash_hex")
        ),
        sa.CheckConstraint(
            "chain_position >= 1", name=op.f("ck_audit_checkpoints_position_positive")
        ),
        sa.CheckConstraint(
            "octet_length(signature) = 64", name=op.f("ck_audit_checkpoints_ed25519_length")
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["audit_signing_keys.key_id"],
            name=op.f("fk_audit_checkpoints_key_id_audit_signing_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index(
        op.f("ix_audit_checkpoints_chain_position"),
        "audit_checkpoints",
        ["chain_position"],
        unique=False,
    )
    op.execute(
        """
        CREATE FUNCTION audit_checkpoints_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- Nested: PL/pgSQL does not promise to stop at the first false AND, and a
            -- checkpoint row has no retired_at.
            IF TG_TABLE_NAME = 'audit_signing_keys' AND TG_OP = 'UPDATE' THEN
                IF OLD.retired_at IS NULL AND NEW.retired_at IS NOT NULL
                   AND to_jsonb(NEW) - 'retired_at' = to_jsonb(OLD) - 'retired_at' THEN
                    RETURN NEW;  -- the retirement of a key: once, nothing else changed
                END IF;
            END IF;
            RAISE EXCEPTION 'audit checkpoints and signing keys are append-only: % of % refused',
                TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in ("audit_checkpoints", "audit_signing_keys"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_refuse()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_refuse()"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_checkpoints_chain_position"), table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_signing_keys")
    op.execute("DROP FUNCTION audit_checkpoints_refuse()")
