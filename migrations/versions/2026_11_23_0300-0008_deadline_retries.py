"""A deadline whose firing fails is retried later instead of holding back the others.

``failures`` counts the failed attempts and ``retry_at`` says when the next one is due. The
workers look for the pending deadlines by their next attempt, ``coalesce(retry_at, due_at)``,
so the pending index moves to that expression; ``due_at`` stays the moment it was due.

Data: existing deadlines have never failed (failures 0, no retry_at).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = "fired_at IS NULL AND cancelled_at IS NULL"


def upgrade() -> None:
    op.add_column(
        "request_deadlines",
        sa.Column("failures", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "request_deadlines", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.drop_index("ix_request_deadlines_pending_due", table_name="request_deadlines")
    op.create_index(
        "ix_request_deadlines_pending_next",
        "request_deadlines",
        [sa.text("coalesce(retry_at, due_at)")],
        postgresql_where=sa.text(_PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_request_deadlines_pending_next", table_name="request_deadlines")
    op.create_index(
        "ix_request_deadlines_pending_due",
        "request_deadlines",
        ["due_at"],
        postgresql_where=sa.text(_PENDING),
    )
    op.drop_column("request_deadlines", "retry_at")
    op.drop_column("request_deadlines", "failures")
