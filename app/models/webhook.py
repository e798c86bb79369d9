from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ARRAY, DateTime, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import HandlingCode, db_enum
from app.models.ownership import OwnerColumns


class WebhookEndpoint(Base):
    """Where an agency's case system wants to be told of events (Standard Webhooks).

    ``channels`` are the event channels it hears (app/realtime/audience.py), fixed from its
    agency when it is made, so the fan-out in the event's own transaction is one indexed
    match. The HMAC secret must be used to sign, so it cannot be hashed: it is kept sealed
    with the service secret (app/core/service_secret.py) and shown once."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        # The fan-out's match: the endpoints that hear any of an event's channels.
        Index(
            "ix_webhook_endpoints_channels",
            "channels",
            postgresql_using="gin",
            postgresql_where="disabled_at IS NULL",
        ),
    )
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(agency="agency_id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id"), nullable=False, index=True
    )
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    description: Mapped[str] = mapped_column(String(200), nullable=False, server_default="")
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    # Empty: every event type.
    event_types: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), nullable=False, server_default="{}"
    )
    # Above it, a message carries the request's id and the event's type only.
    tlp_ceiling: Mapped[HandlingCode] = mapped_column(
        db_enum(HandlingCode, name="webhook_tlp_ceiling"), nullable=False
    )
    secret: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # The previous secret, still signed with until then (a rotation's overlap).
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    # None: made at the shell by an operator (relay247 webhooks create), who is no principal.
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    # Since when every attempt has failed (None: the last one succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
