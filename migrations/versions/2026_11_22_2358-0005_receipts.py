"""Delivery receipts (who first confirmed a request on screen, and when) and the time of the
first response, so that the times to deliver, acknowledge and respond are stored per request.

The receipt is a step of the history (action `receive`, submitted -> delivered).

Data: a request already responded to takes the time of its first respond action.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 23:58:06.598892
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("requests", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("requests", sa.Column("delivered_by", sa.Uuid(), nullable=True))
    op.add_column("requests", sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        op.f("fk_requests_delivered_by_principals"),
        "requests",
        "principals",
        ["delivered_by"],
        ["id"],
    )
    op.create_index(
        "ix_requests_unconfirmed",
        "requests",
        ["target_country", "created_at"],
        unique=False,
        postgresql_where="status = 'submitted' AND delivered_at IS NULL",
    )
    op.execute(
        "UPDATE requests r SET responded_at = first.at FROM ("
        "SELECT request_id, min(at) AS at FROM request_transitions "
        "WHERE action = 'respond' GROUP BY request_id) AS first "
        "WHERE first.request_id = r.id"
    )


def downgrade() -> None:
    op.drop_index("ix_requests_unconfirmed", table_name="requests")
    op.drop_constraint(op.f("fk_requests_delivered_by_principals"), "requests", type_="foreignkey")
    op.drop_column("requests", "responded_at")
    op.drop_column("requests", "delivered_by")
    op.drop_column("requests", "delivered_at")
