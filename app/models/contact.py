from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import db_enum
from app.models.ownership import OwnerColumns


class ContactKind(enum.StrEnum):
    EMAIL = "email"
    WEB_PUSH = "web_push"
    GATEWAY = "gateway"  # a country's own SMS, voice or pager gateway, as a signed webhook


class ContactMethod(Base):
    """One way to reach a person when work waits for them: an address, a browser's push
    subscription, a gateway. Used for alerts only once verified (the person confirmed a
    test message)."""

    __tablename__ = "contact_methods"
    __table_args__ = (
        Index(
            "ix_contact_methods_principal_active",
            "principal_id",
            postgresql_where="verified_at IS NOT NULL AND disabled_at IS NULL",
        ),
    )
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(principal="principal_id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    kind: Mapped[ContactKind] = mapped_column(db_enum(ContactKind), nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False, server_default="")
    # The e-mail address, the push service's endpoint URL, or the gateway's URL.
    address: Mapped[str] = mapped_column(String(2048), nullable=False)
    # A push subscription's keys (p256dh, auth); a gateway's encrypted signing secret.
    keys: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The code of the test message, hashed; cleared once verified.
    verification_hash: Mapped[str | None] = mapped_column(String(64))
    verification_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AckLink(Base):
    """A one-time acknowledgement an alert carries (the e-mail's link, the push's action):
    bound to one request and one person, short-lived, used once. Only its hash is kept."""

    __tablename__ = "ack_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), nullable=False)
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    message_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
