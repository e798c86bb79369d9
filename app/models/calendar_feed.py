from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.ownership import OwnerColumns


class CalendarFeed(Base):
    """A person's subscription link to their own shifts (app/rosters/calendar_feed.py). A
    calendar application sends no bearer token and no cookie, so the link's path is the
    credential: like an API token, only its public prefix and a SHA-256 of it are kept. A
    person has at most one that works; revoked or replaced ones stay, for the trail."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        Index(
            "uq_calendar_feeds_principal_active",
            "principal_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(principal="principal_id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False, unique=True)
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
