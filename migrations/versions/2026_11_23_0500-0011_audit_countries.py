"""Audit entries name the countries they concern; national auditors.

``countries`` is part of an entry's canonical form from format 2 on (app/audit/
chain.py). Entries written before this revision keep NULL, and with it format 1, so the hashes
they were sealed with still verify: the column is added without a default (a default given in
ADD COLUMN would be read back for existing rows too) and the default is set afterwards, for
new rows only.

A BRIN index answers time ranges; a partial index answers "entries naming request R in their details" (its messages' and
files' entries), the other half of the request filter. A GIN index answers "entries concerning country X", the filter of every national auditor's
read and of the country filter of GET /v1/audit/entries and exports.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = ("unit", "contact_point", "ncb", "gs", "auditor", "admin")


def _role_check(roles: Sequence[str]) -> str:
    return "role IN (" + ", ".join(f"'{role}'" for role in roles) + ")"


def upgrade() -> None:
    op.add_column(
        "audit_entries",
        sa.Column("countries", postgresql.ARRAY(sa.CHAR(length=2)), nullable=True),
    )
    op.alter_column("audit_entries", "countries", server_default=sa.text("'{}'::char(2)[]"))
    op.create_index(
        "ix_audit_entries_countries",
        "audit_entries",
        ["countries"],
        unique=False,
        postgresql_using="gin",
    )
    # Time ranges of the trail's readers. BRIN: entries are written in time order, so a
    # summary per block range answers them at almost no cost to each insert.
    op.create_index(
        "ix_audit_entries_occurred_at",
        "audit_entries",
        ["occurred_at"],
        unique=False,
        postgresql_using="brin",
    )
    # Entries about a request's messages and files name it in their details: partial, so
    # only those entries pay for it.
    op.create_index(
        "ix_audit_entries_named_request",
        "audit_entries",
        [sa.text("(details ->> 'request_id')")],
        unique=False,
        postgresql_where=sa.text("details ? 'request_id'"),
    )
    op.drop_constraint(op.f("ck_principals_role"), "principals", type_="check")
    op.create_check_constraint(
        op.f("ck_principals_role"), "principals", _role_check((*_ROLES, "national_auditor"))
    )


def downgrade() -> None:
    # Refused rather than guessed: a national auditor made a network-wide one would see more
    # than it was given, and deleting principals loses who they were.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM principals WHERE role = 'national_auditor') THEN "
        "RAISE EXCEPTION 'principals with role national_auditor exist: change their role first'; "
        "END IF; END $$"
    )
    op.drop_constraint(op.f("ck_principals_role"), "principals", type_="check")
    op.create_check_constraint(op.f("ck_principals_role"), "principals", _role_check(_ROLES))
    op.drop_index("ix_audit_entries_named_request", table_name="audit_entries")
    op.drop_index(
        "ix_audit_entries_occurred_at", table_name="audit_entries", postgresql_using="brin"
    )
    op.drop_index("ix_audit_entries_countries", table_name="audit_entries", postgresql_using="gin")
    op.drop_column("audit_entries", "countries")
