from __future__ import annotations

from sqlalchemy import CHAR, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Country(Base):
    """A country of the network (ISO 3166-1 alpha-2); only these can send or be targeted."""

    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(CHAR(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
