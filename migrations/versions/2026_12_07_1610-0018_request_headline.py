"""A request's headline (metadata its sender writes, so a queue can say what a request is
about without an audited content read), and the indexes the all-requests search reads.

The search (GET /v1/requests with filters and ``q``) is keyset-paged newest first within the
reader's scope. A desk's scope already has (target_country, created_at, id); an NCB also
sees what its country sent, which had no index of its own, and "assigned to me" walks
(assigned_to, created_at, id), which exists. A status filter within a country (closed ones,
say) is answered by (target_country, status, created_at, id).

``q`` finds the headlines whose words start with the words searched. A substring search
read every headline of the reader's scope to fill a page when few matched: 110 ms for one
desk, 480 ms for the global desk at 100,000 requests (``python -m bench --only search``).
A trigram index would serve substrings, but the embedded Postgres ships without pg_trgm, so
the words go in a GIN full-text index (the ``simple`` configuration: lower case, no
stemming, no stop words), which every Postgres has.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("requests", sa.Column("headline", sa.String(length=120), nullable=True))
    op.create_index(
        "ix_requests_sending_created",
        "requests",
        ["requesting_country", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_requests_headline_words",
        "requests",
        [sa.text("to_tsvector('simple', headline)")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_requests_target_status_created",
        "requests",
        ["target_country", "status", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_requests_target_status_created", table_name="requests")
    op.drop_index("ix_requests_headline_words", table_name="requests")
    op.drop_index("ix_requests_sending_created", table_name="requests")
    op.drop_column("requests", "headline")
