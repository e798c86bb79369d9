from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, created_at_column
from app.models.principal import Principal


class ApiToken(Base):
    """A bearer token. Only its public prefix and a SHA-256 of the whole token are kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        Index(
            "ix_api_tokens_signed_in_with",
            "signed_in_with",
            postgresql_where=text("signed_in_with IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    principal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("principals.id"), nullable=False, index=True
    )
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A token stops working at this time; None: until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Written in batches, not on every call (app/identity/token_usage.py): accurate to a minute.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The token that replaced this one by rotation; this one expires after the overlap.
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_tokens.id"))

    # A web session (the dashboard's sign-in) is a token of its own, kept in a cookie: this is
    # the token it was signed in with. Revoking that one revokes its sessions too.
    signed_in_with: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_tokens.id", name="fk_api_tokens_signed_in_with")
    )

    principal: Mapped[Principal] = relationship(lazy="raise")
