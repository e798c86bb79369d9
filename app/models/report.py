from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    CHAR,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.ownership import OwnerColumns


class Report(Base):
    """A cyber analytical report (app/reports/): its PDF and CSV as generated, and the manifest
    the service signed over their hashes. ``country`` NULL: the network's report, which
    belongs to no country (the global desk's alone). Written once, never changed.

    A periodic report (``weekly``, ``monthly``) exists once per scope and period: the unique
    index is what two instances generating it at once meet."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("kind IN ('weekly', 'monthly', 'on_demand')", name="kind_known"),
        CheckConstraint("period_start < period_end", name="period_ordered"),
        CheckConstraint(
            "(scope = 'network') = (country IS NULL) AND (country IS NULL OR scope = country)",
            name="scope_is_country",
        ),
        Index(
            "uq_reports_periodic",
            "scope",
            "kind",
            "period_start",
            unique=True,
            postgresql_where=text("kind <> 'on_demand'"),
        ),
        # The list, newest first, of a scope.
        Index("ix_reports_scope_created", "scope", "created_at", "id"),
    )
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(country="country")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    scope: Mapped[str] = mapped_column(String(7), nullable=False)  # 'network' or the country
    country: Mapped[str | None] = mapped_column(CHAR(2), ForeignKey("countries.code"))
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Who asked for it; NULL: the service's periodic worker.
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    created_at: Mapped[datetime] = created_at_column()
    pdf: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    csv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    pdf_sha256: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    csv_sha256: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    # The signed manifest exactly as served (RFC 8785 JSON, signature included).
    manifest: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(CHAR(64), nullable=False)
