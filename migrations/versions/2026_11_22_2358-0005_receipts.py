"""Delivery receipts (who first confirmed a request on screen, and when) and the time of the
first response, so that the times to deliver, acknowledge and respond are stored per request.

The receipt is a step of the history (action `receive`, submitted -> delivered): the
action column's CHECK constraint takes the new value.

Data: a request already responded to takes the time of its first respond action.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 23:58:06.598892
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

_ACTIONS = (
    "acknowledge",
    "start",
    "request_info",
    "provide_info",
    "respond",
    "decline",
    "close",
    "cancel",
    "reopen",
)


def _allow_actions(*actions: str) -> None:
    op.drop_constraint(op.f("ck_request_transitions_requestaction"), "request_transitions")
    listed = ", ".join(f"'{action}'" for action in actions)
    op.create_check_constraint(
        op.f("ck_request_transitions_requestaction"),
        "request_transitions",
        f"action IN ({listed})",
    )


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
    op.execute(
        "UPDATE requests r SET responded_at = first.at FROM ("
        "SELECT request_id, min(at) AS at FROM request_transitions "
        "WHERE action = 'respond' GROUP BY request_id) AS first "
        "WHERE first.request_id = r.id"
    )
    _allow_actions("receive", *_ACTIONS)


def downgrade() -> None:
    # The receipts' history rows go with the receipts' columns.
    op.execute("DELETE FROM request_transitions WHERE action = 'receive'")
    _allow_actions(*_ACTIONS)
    op.drop_constraint(op.f("fk_requests_delivered_by_principals"), "requests", type_="foreignkey")
    op.drop_column("requests", "responded_at")
    op.drop_column("requests", "delivered_by")
    op.drop_column("requests", "delivered_at")
