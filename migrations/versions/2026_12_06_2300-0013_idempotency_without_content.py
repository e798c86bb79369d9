"""Idempotency keys hold the request's id, not its first answer: the answer quoted the
request's content (subject, details, identifiers, legal basis), which outlived the purge and
was replayed after it. Keys get a lifetime, swept by age.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "request_id",
            sa.Uuid(),
            sa.ForeignKey("requests.id", name="fk_idempotency_keys_request_id_requests"),
            nullable=True,
        ),
    )
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "warnings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    # A stored answer's id and warnings are all a replay needs now; a row without an answer
    # (status 0) was never committed. Requests are never deleted, but a row naming none is
    # dropped rather than kept pointing nowhere.
    op.execute(
        """
        UPDATE idempotency_keys AS k
        SET request_id = r.id,
            warnings = coalesce(k.response -> 'warnings', '[]'::jsonb)
        FROM requests AS r
        WHERE r.id::text = k.response ->> 'id'
        """
    )
    op.execute("DELETE FROM idempotency_keys WHERE request_id IS NULL")
    op.drop_column("idempotency_keys", "response")
    op.drop_column("idempotency_keys", "status_code")
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.add_column(
        "idempotency_keys",
        sa.Column("status_code", sa.SmallInteger(), server_default="201", nullable=False),
    )
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "response",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )
    # The older relay247 fills the fields an answer lacks from the request as it stands.
    op.execute(
        "UPDATE idempotency_keys SET response = jsonb_build_object('id', request_id::text, "
        "'warnings', warnings) WHERE request_id IS NOT NULL"
    )
    op.alter_column("idempotency_keys", "status_code", server_default=None)
    op.alter_column("idempotency_keys", "response", server_default=None)
    op.drop_column("idempotency_keys", "warnings")
    op.drop_column("idempotency_keys", "request_id")
