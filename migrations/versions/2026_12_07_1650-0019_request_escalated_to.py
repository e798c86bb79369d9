"""Whom the escalation step a request is at reaches, beside the step: a list (the queue's
"Held by") says "NCB DE" or "the global desk" while either is being chased, where it said "DE
desk" because only the request's own page read the policy.

Requests escalated before this take it from their last ``request.escalated`` audit entry, which
the deadline worker writes with the target of each step it fires.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "requests",
        sa.Column(
            "escalated_to",
            sa.Enum(
                "on_duty_primary",
                "on_duty_backup",
                "ncb",
                "global_desk",
                name="request_escalated_to",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
    )
    op.execute(
        """
        UPDATE requests r SET escalated_to = last.target
        FROM (
            SELECT DISTINCT ON (object_id) object_id, details->>'target' AS target
            FROM audit_entries
            WHERE object_type = 'request' AND action = 'request.escalated'
            ORDER BY object_id, id DESC
        ) AS last
        WHERE r.escalation_step > 0 AND last.object_id = r.id::text
        """
    )


def downgrade() -> None:
    op.drop_column("requests", "escalated_to")
