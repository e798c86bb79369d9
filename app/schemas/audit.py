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


class StageReceipt(BaseModel):
    """The service's signed statement that a request passed a stage, tied to the audit chain.
    The signed bytes are the RFC 8785 form of this object without `signature`
    (docs/audit-chain.md). Times are strings, written exactly as they were signed."""

    v: int = Field(description="Version of the signed format: 1.")
    type: str = Field(description="Always `relay247.audit.receipt`.")
    request_id: str
    stage: str = Field(description="submitted, delivered, acknowledged, responded, ...")
    at: str = Field(description="When the stage was recorded (UTC, microseconds, `Z`).")
    position: int = Field(description="The stage's audit entry's position in the chain.")
    entry_hash: str = Field(description="That entry's chain hash, lowercase hex.")
    content_hash: str | None = Field(description="SHA-256 of the request's content then.")
    signed_at: str = Field(description="When the service signed (UTC, microseconds, `Z`).")
    key_id: str = Field(description="The signing key, as in GET /v1/audit/public-keys.")
    signature: str = Field(description="Ed25519 signature, base64 (RFC 4648 section 4).")


class StageReceiptItem(BaseModel):
    stage: str
    at: datetime = Field(description="When the stage was recorded.")
    pending: bool = Field(
        description="True while the stage's audit entry is not sealed into the chain yet "
        "(about a second): no receipt yet, ask again."
    )
    receipt: StageReceipt | None = Field(description="Null while pending.")


class StageReceiptList(BaseModel):
    """One item per stage the request passed, in the order they were recorded. Not
    paginated: a request passes a handful of stages."""

    items: list[StageReceiptItem]
