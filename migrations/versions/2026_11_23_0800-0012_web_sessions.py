"""Web sessions: the dashboard's sign-in makes a short-lived token kept in a cookie,
api_tokens.signed_in_with names the token it was made from (revoking that one ends them).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_tokens",
        sa.Column(
            "signed_in_with",
            sa.Uuid(),
            sa.ForeignKey("api_tokens.id", name="fk_api_tokens_signed_in_with"),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_api_tokens_signed_in_with",
        "api_tokens",
        ["signed_in_with"],
        postgresql_where=sa.text("signed_in_with IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_api_tokens_signed_in_with", table_name="api_tokens")
    op.drop_column("api_tokens", "signed_in_with")
