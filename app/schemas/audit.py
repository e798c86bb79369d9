"""The audit trail as the API shows it: the published checkpoint signing keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AuditPublicKeyOut(BaseModel):
    key_id: str = Field(
        description="Lowercase hex SHA-256 of the 32 raw public key bytes: the id pins the key."
    )
    algorithm: str = Field(description="Always `Ed25519` (RFC 8032).")
    public_key: str = Field(
        description="The 32 raw public key bytes in base64 (RFC 4648 section 4, padded)."
    )
    valid_from: datetime = Field(description="Checkpoints signed from this time on are valid.")
    retired_at: datetime | None = Field(
        description="Checkpoints signed from this time on are not valid; null: the key in use. "
        "Checkpoints signed before stay valid."
    )


class AuditPublicKeyList(BaseModel):
    """Every key ever published, oldest first. Not paginated: one key per rotation."""

    items: list[AuditPublicKeyOut]
