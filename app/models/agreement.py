from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    CHAR,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.ownership import OwnerColumns


class AccessAgreement(Base):
    """An NCB's grant to an agency of its country: the right to send requests, within a scope.

    A scope column that is NULL means "all" (every type, every target, every priority). Never
    deleted: ending one sets ``ended_at``, and requests already sent are untouched.
    """

    __tablename__ = "access_agreements"
    __table_args__ = (
        CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from", name="valid_until_after_from"
        ),
    )
    # An agreement belongs to the granting NCB's country and to the agency it is granted to.
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(country="country_code", agency="agency_id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id"), nullable=False, index=True
    )
    # The country whose NCB granted it: always the agency's own country.
    country_code: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), nullable=False, index=True
    )
    request_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    target_countries: Mapped[list[str] | None] = mapped_column(ARRAY(CHAR(2)))
    priorities: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    conditions: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    # Four-eyes: an emergency disclosure it covers waits for a second officer's approval
    # before it is sent (app/approvals/).
    four_eyes: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped on every change: a caller may send the version it read (optimistic concurrency).
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
