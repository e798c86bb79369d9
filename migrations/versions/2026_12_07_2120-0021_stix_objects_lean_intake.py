"""No index of stix_objects.stix_id alone: bulk intake kept it up for every object (about a
tenth of Postgres' work per object copied), while the one query that finds an id across
collections, the shared-data search, reaches it through (collection_id, stix_id, version),
one probe per collection the reader may see.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 21:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_stix_objects_stix_id", table_name="stix_objects")


def downgrade() -> None:
    op.create_index("ix_stix_objects_stix_id", "stix_objects", ["stix_id"], unique=False)
