"""Legal response clocks: until when a request must be answered, whether that clock is paused
(the request waits on its requester) and when it ran out.

The warning and breach moments are rows of request_deadlines (kinds response_warning,
response_breach, already allowed by 0006), written with the request.

Data: requests submitted before this revision have no response clock (response_due_at null).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("response_due_at", "response_paused_at", "response_breached_at")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("requests", sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        op.drop_column("requests", name)
