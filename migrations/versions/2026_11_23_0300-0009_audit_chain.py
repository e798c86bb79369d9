"""The audit trail becomes a hash chain: each entry gets a chain position, a hash and the time
it was sealed, set once by the sealer (app/audit/sealer.py) after the entry commits.

The database protects it (docs/audit-chain.md): a trigger refuses UPDATE and DELETE of every
entry, with one exception, the sealing itself (setting position, hash and seal time of an
unsealed entry, nothing else); another refuses TRUNCATE; a third refuses an entry inserted
already sealed, so that only the sealer decides positions.

Data: entries written before this revision are unsealed; the first sealer to run seals them,
in id order.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_entries", sa.Column("chain_position", sa.BigInteger(), nullable=True))
    op.add_column("audit_entries", sa.Column("chain_hash", sa.CHAR(length=64), nullable=True))
    op.add_column(
        "audit_entries", sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_unique_constraint(
        op.f("uq_audit_entries_chain_position"), "audit_entries", ["chain_position"]
    )
    op.create_check_constraint(
        op.f("ck_audit_entries_sealed_whole"),
        "audit_entries",
        "(chain_position IS NULL AND chain_hash IS NULL AND sealed_at IS NULL) OR "
        "(chain_position >= 1 AND chain_hash ~ '^[0-9a-f]{64}$' AND sealed_at IS NOT NULL)",
    )
    op.create_index(
        "ix_audit_entries_unsealed",
        "audit_entries",
        ["id"],
        unique=False,
        postgresql_where=sa.text("chain_position IS NULL"),
    )
    # The row trigger of 0001 stays; its function now lets the sealing through. The row is
    # compared as JSON without the three sealing columns, so a column added later is covered
    # without touching this function.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.chain_position IS NOT NULL THEN
                RAISE EXCEPTION 'audit entries are append-only: entry % is sealed at position %, UPDATE refused',
                    OLD.id, OLD.chain_position
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'UPDATE' AND NEW.chain_position IS NOT NULL
               AND to_jsonb(NEW) - '{chain_position,chain_hash,sealed_at}'::text[]
                 = to_jsonb(OLD) - '{chain_position,chain_hash,sealed_at}'::text[] THEN
                RETURN NEW;  -- the sealing: position, hash and time set once, nothing else
            END IF;
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'audit entries are append-only: entry % may only be sealed, UPDATE refused',
                    OLD.id
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit_entries_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                RAISE EXCEPTION 'audit entries are append-only: an entry is inserted unsealed, only the sealer gives it a position'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse()"
    )
    # WHEN is evaluated without calling PL/pgSQL: an ordinary (unsealed) insert pays nothing.
    op.execute(
        "CREATE TRIGGER audit_entries_insert_unsealed BEFORE INSERT ON audit_entries "
        "FOR EACH ROW WHEN (NEW.chain_position IS NOT NULL) "
        "EXECUTE FUNCTION audit_entries_refuse()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_entries_insert_unsealed ON audit_entries")
    op.execute("DROP TRIGGER audit_entries_no_truncate ON audit_entries")
    op.execute("DROP FUNCTION audit_entries_refuse()")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.drop_index(
        "ix_audit_entries_unsealed",
        table_name="audit_entries",
        postgresql_where=sa.text("chain_position IS NULL"),
    )
    op.drop_constraint(op.f("ck_audit_entries_sealed_whole"), "audit_entries", type_="check")
    op.drop_constraint(op.f("uq_audit_entries_chain_position"), "audit_entries", type_="unique")
    op.drop_column("audit_entries", "sealed_at")
    op.drop_column("audit_entries", "chain_hash")
    op.drop_column("audit_entries", "chain_position")
