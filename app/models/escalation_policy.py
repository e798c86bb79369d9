from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CHAR, CheckConstraint, ForeignKey, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column

NETWORK_DEFAULT = "**"  # the scope of the network-wide default policy


class EscalationPolicy(Base):
    """Who is told, in which order and after how long, when nobody acknowledges; and the legal
    response clocks. One row per country that has its own, one network-wide default (scope
    ``**``). The document's shape and rules: app/deadlines/escalation_policy.py."""

    __tablename__ = "escalation_policies"
    __table_args__ = (
        CheckConstraint(
            "(scope = '**' AND country_code IS NULL) OR scope = country_code",
            name="scope_is_country",
        ),
    )

    scope: Mapped[str] = mapped_column(CHAR(2), primary_key=True)
    country_code: Mapped[str | None] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), unique=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = created_at_column()
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
