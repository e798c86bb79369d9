from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column


class Channel(Base):
    """The offset counter of one event channel (a country desk, an agency, the global desk).

    Taking the next offset updates this row, whose lock is held until commit: offsets of a
    channel are therefore gap-free and in commit order.
    """

    __tablename__ = "channels"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_offset: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class Event(Base):
    """One event on one channel: the truth that sockets are fed from and resume from."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("channel", "offset"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    request_id: Mapped[uuid.UUID | None] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
