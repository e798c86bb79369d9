from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import CHAR, ColumnElement, ForeignKey, String, UniqueConstraint, case
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import AgencyKind, db_enum
from app.models.ownership import OwnerColumns


class Agency(Base):
    __tablename__ = "agencies"
    __table_args__ = (UniqueConstraint("country_code", "name"),)
    # An agency belongs to itself and to its country, unless it is the General Secretariat.
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(country="owner_country", agency="id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    country_code: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), nullable=False, index=True
    )
    kind: Mapped[AgencyKind] = mapped_column(db_enum(AgencyKind), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = created_at_column()

    @hybrid_property
    def owner_country(self) -> str | None:
        """The country the agency belongs to for authorization: the General Secretariat sits
        in a country but belongs to none, so that no NCB manages the global desk."""
        return None if self.kind is AgencyKind.GS else self.country_code

    @owner_country.inplace.expression
    @classmethod
    def _owner_country_sql(cls) -> ColumnElement[str | None]:
        return case((cls.kind == AgencyKind.GS, None), else_=cls.country_code)
