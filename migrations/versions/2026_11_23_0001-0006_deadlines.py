"""Acknowledgement deadlines as rows, and where each request stands in its escalation.

A deadline is written with the routing and fired by whichever instance claims it first
(app/deadlines.py); the request shows its current step, until when that step has
to acknowledge, when it last moved on and whether it passed the last step. The assignment
vocabulary gains ``escalated``.

Data: requests submitted before this revision get no deadline (they escalate no more than
they did before).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 00:01:35.033435
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = "fired_at IS NULL AND cancelled_at IS NULL"


def _assignment_check(values: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_requests_assignment"), "requests", type_="check")
    listed = ", ".join(f"'{value}'" for value in values)
    op.create_check_constraint(
        op.f("ck_requests_assignment"), "requests", f"assignment IN ({listed})"
    )


def upgrade() -> None:
    op.create_table(
        "request_deadlines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ack",
                "response_warning",
                "response_breach",
                "reminder",
                name="deadlinekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_deadlines_request_id_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_deadlines")),
        sa.UniqueConstraint(
            "request_id", "kind", "step", name=op.f("uq_request_deadlines_request_id_kind_step")
        ),
    )
    op.create_index(
        "ix_request_deadlines_pending_due",
        "request_deadlines",
        ["due_at"],
        unique=False,
        postgresql_where=_PENDING,
    )
    op.add_column(
        "requests",
        sa.Column("escalation_step", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.add_column("requests", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("requests", sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("requests", sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
    _assignment_check(["on_duty", "desk", "reassigned", "escalated"])


def downgrade() -> None:
    # An escalated request was moved on by the desk's policy: the nearest older word.
    op.execute("UPDATE requests SET assignment = 'reassigned' WHERE assignment = 'escalated'")
    _assignment_check(["on_duty", "desk", "reassigned"])
    op.drop_column("requests", "overdue_at")
    op.drop_column("requests", "ack_due_at")
    op.drop_column("requests", "escalated_at")
    op.drop_column("requests", "escalation_step")
    op.drop_index(
        "ix_request_deadlines_pending_due",
        table_name="request_deadlines",
        postgresql_where=_PENDING,
    )
    op.drop_table("request_deadlines")
