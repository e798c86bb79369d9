from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import DateTime, ForeignKey, SQLColumnExpression, String
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.agency import Agency
from app.models.base import Base, created_at_column
from app.models.enums import Role, db_enum
from app.models.ownership import OwnerColumns


class Principal(Base):
    """A person, desk or system that acts in relay247, always on behalf of one agency.

    Never deleted (requests and audit entries name it): disabled instead, which stops all its
    tokens at once."""

    __tablename__ = "principals"
    # A principal, and what is its (its tokens), belong to it, to its agency and to its
    # agency's country (none for the General Secretariat's): see Agency.owner_country.
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(
        country="owner_country", agency="agency_id", principal="id"
    )

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

    @hybrid_property
    def owner_country(self) -> str | None:
        """Its agency's: in Python the agency must be loaded with it (contains_eager), in SQL
        the query must join its agency."""
        return self.agency.owner_country

    @owner_country.inplace.expression
    @classmethod
    def _owner_country_sql(cls) -> SQLColumnExpression[str | None]:
        return Agency.owner_country
