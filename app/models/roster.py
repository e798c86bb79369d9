from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CHAR,
    CheckConstraint,
    DateTime,
    ForeignKey,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import Cadence, Layer, OverrideKind, db_enum


class RosterRotation(Base):
    """Who takes turns on a layer of a country's desk, from when, and how long each turn is.

    Times are the country's wall-clock time (``starts_local`` has no zone): a 08:00 hand-off
    stays at 08:00 across daylight-saving changes. Resolution: app/rosters/.
    """

    __tablename__ = "roster_rotations"
    __table_args__ = (
        CheckConstraint("(cadence = 'hours') = (hours IS NOT NULL)", name="hours_iff_cadence"),
        CheckConstraint("hours IS NULL OR hours BETWEEN 1 AND 168", name="hours_range"),
        CheckConstraint("cardinality(participants) > 0", name="has_participants"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    country_code: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), nullable=False, index=True
    )
    layer: Mapped[Layer] = mapped_column(db_enum(Layer), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # Contact points of the country, in turn order (checked on write: arrays have no FK).
    participants: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False)
    starts_local: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)
    cadence: Mapped[Cadence] = mapped_column(db_enum(Cadence), nullable=False)
    hours: Mapped[int | None] = mapped_column(SmallInteger)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    created_at: Mapped[datetime] = created_at_column()


class RosterOverride(Base):
    """A one-off change on top of the rotations: a cover, a swap or a leave, for a time range.

    Cancelled, never deleted: an audit entry may name it.
    """

    __tablename__ = "roster_overrides"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("(kind = 'leave') = (layer IS NULL)", name="layer_unless_leave"),
        CheckConstraint(
            "(kind = 'swap') = (other_principal_id IS NOT NULL)", name="swap_has_partner"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    country_code: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), nullable=False, index=True
    )
    kind: Mapped[OverrideKind] = mapped_column(db_enum(OverrideKind), nullable=False)
    layer: Mapped[Layer | None] = mapped_column(db_enum(Layer))
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    other_principal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    created_at: Mapped[datetime] = created_at_column()
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
