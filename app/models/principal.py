from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.agency import Agency
from app.models.base import Base, created_at_column
from app.models.enums import Role, db_enum


class Principal(Base):
    """A person, desk or system that acts in relay247, always on behalf of one agency.

    Never deleted (requests and audit entries name it): disabled instead, which stops all its
    tokens at once."""

    __tablename__ = "principals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id"), nullable=False, index=True
    )
    role: Mapped[Role] = mapped_column(db_enum(Role), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # Personal data: shown only to those who manage or work with the person
    # (app/identity/policy.py).
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_at_column()
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    agency: Mapped[Agency] = relationship(lazy="raise")
