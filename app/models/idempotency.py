from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CHAR, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column


class IdempotencyKey(Base):
    """Which request a POST with an Idempotency-Key made, so that a retry of it is answered
    with that request instead of making another.

    Keys are scoped to the calling agency: its case system may retry through any of its tokens.
    The row holds no content: a retry's answer is drawn from the request as it stands, so the
    purge, which empties the request, leaves nothing of it here either. A key is honoured for
    RELAY247_IDEMPOTENCY_KEY_LIFETIME after its first use, then swept.
    """

    __tablename__ = "idempotency_keys"
    # The sweep deletes by age.
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the parsed body: tells a retry from another body under the same key.
    body_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    # NULL only inside the transaction that claimed the key, until it has made the request.
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("requests.id"))
    # Or the emergency disclosure it held for four-eyes approval (app/approvals/): sent once
    # approved as the request of the same id.
    approval_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("approvals.id"))
    # What the first answer told the sender about the target desk (routing.warnings): words
    # of the directory, not of the request.
    warnings: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default="[]")
    created_at: Mapped[datetime] = created_at_column()
