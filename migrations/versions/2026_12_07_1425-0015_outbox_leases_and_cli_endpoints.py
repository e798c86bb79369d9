"""The outbox's indexes as the sender and the alerts list read them; webhook endpoints made
from the CLI, which have no acting person.

0014 landed with an index of pending messages by request only: an acknowledgement's
withdrawal (which reads sent pushes) and who-was-alerted scanned the table, and a lease walked
every delivered row of each destination (12-33 ms with 5,000 rows; 3 ms with these).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 14:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(
        "ix_outbox_messages_request_pending",
        table_name="outbox_messages",
        postgresql_where="status = 'pending' AND request_id IS NOT NULL",
    )
    op.create_index(
        "ix_outbox_messages_request",
        "outbox_messages",
        ["request_id", "created_at", "id"],
        unique=False,
        postgresql_where="request_id IS NOT NULL",
    )
    op.create_index(
        "ix_outbox_messages_pending",
        "outbox_messages",
        ["destination_id", "due_at"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        "ix_outbox_messages_in_flight",
        "outbox_messages",
        ["destination_id"],
        unique=False,
        postgresql_where="status = 'pending' AND leased_until IS NOT NULL",
    )
    op.alter_column("webhook_endpoints", "created_by", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    # Fails while an endpoint made from the CLI exists: delete those first.
    op.alter_column("webhook_endpoints", "created_by", existing_type=sa.Uuid(), nullable=False)
    op.drop_index(
        "ix_outbox_messages_in_flight",
        table_name="outbox_messages",
        postgresql_where="status = 'pending' AND leased_until IS NOT NULL",
    )
    op.drop_index(
        "ix_outbox_messages_pending",
        table_name="outbox_messages",
        postgresql_where="status = 'pending'",
    )
    op.drop_index(
        "ix_outbox_messages_request",
        table_name="outbox_messages",
        postgresql_where="request_id IS NOT NULL",
    )
    op.create_index(
        "ix_outbox_messages_request_pending",
        "outbox_messages",
        ["request_id"],
        unique=False,
        postgresql_where="status = 'pending' AND request_id IS NOT NULL",
    )
