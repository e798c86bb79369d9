from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    LargeBinary,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditSigningKey(Base):
    """A public key the service signs audit checkpoints with, published with its validity.

    The private key never enters the database: it is a file of the instance
    (RELAY247_AUDIT_SIGNING_KEY_FILE). The key id is the SHA-256 of the raw public key, so a
    row whose public key was swapped no longer matches its id, and an id kept outside the
    database pins the key it names."""

    __tablename__ = "audit_signing_keys"
    __table_args__ = (
        CheckConstraint("key_id ~ '^[0-9a-f]{64}$'", name="key_id_hex"),
        CheckConstraint("octet_length(public_key) = 32", name="ed25519_length"),
        CheckConstraint("retired_at IS NULL OR retired_at >= valid_from", name="retired_after"),
    )

    key_id: Mapped[str] = mapped_column(CHAR(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16), nullable=False, server_default="Ed25519")
    public_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # raw, 32 bytes
    valid_from: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # Set by `relay247 audit rotate-key`: checkpoints signed before it stay valid.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditCheckpoint(Base):
    """A signed statement "the audit chain's entry at ``chain_position`` has hash
    ``chain_hash``", written every RELAY247_AUDIT_CHECKPOINT_INTERVAL when the head moved
    and by `relay247 audit checkpoint`. The same line is appended to a file outside the
    database; the signed bytes are in docs/audit-chain.md. Append-only (migration 0010)."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (
        CheckConstraint("chain_position >= 1", name="position_positive"),
        CheckConstraint("chain_hash ~ '^[0-9a-f]{64}$'", name="hash_hex"),
        CheckConstraint("octet_length(signature) = 64", name="ed25519_length"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    v: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # version of the signed bytes
    chain_position: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    chain_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    key_id: Mapped[str] = mapped_column(
        CHAR(64), ForeignKey("audit_signing_keys.key_id"), nullable=False
    )
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
