from __future__ import annotations

from datetime import datetime

from sqlalchemy import CHAR, Boolean, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column


class Country(Base):
    """A country of the network (ISO 3166-1 alpha-2), with its contact-point profile: only
    these can send or be targeted."""

    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(CHAR(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # IANA zone the country's rosters are written in.
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    languages: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), nullable=False, server_default="{}"
    )
    # Request types the desk can execute itself, and those that need mutual legal assistance.
    # A request of another type is accepted with a warning to the sender (see routing).
    direct_types: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), nullable=False, server_default="{}"
    )
    mla_types: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), nullable=False, server_default="{}"
    )
    desk_phone: Mapped[str | None] = mapped_column(String(40))
    desk_email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    # The country's policy: every emergency disclosure it sends waits for a second officer's
    # approval (app/approvals/), whatever its agencies' agreements say.
    four_eyes: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    updated_at: Mapped[datetime] = created_at_column()
