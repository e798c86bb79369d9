"""The audit trail as the API shows it: entries, the published checkpoint signing keys, the
requester's signed receipts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

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


class AuditEntryOut(BaseModel):
    """One audit entry: who did or read what, when, from where, to which object. Metadata and
    content hashes only, never content. Sealed entries carry their place in the hash chain;
    an entry is sealed about a second after it commits (docs/audit-chain.md)."""

    id: int = Field(
        description="Taken when written; entries commit, and are sealed, out of id order."
    )
    occurred_at: datetime = Field(description="When the transaction that wrote it began.")
    actor_principal_id: uuid.UUID | None = Field(
        description="Who acted; null for what the service did by itself (an escalation, a purge)."
    )
    actor_agency_id: uuid.UUID | None
    actor_role: str | None
    actor_country: str | None = Field(description="The country of the actor's agency.")
    remote_addr: str | None = Field(description="The client's address as the service saw it.")
    action: str = Field(examples=["request.read"])
    object_type: str = Field(examples=["request"])
    object_id: str
    content_hash: str | None = Field(description="SHA-256 of the content concerned, hex.")
    details: dict[str, Any]
    countries: list[str] | None = Field(
        description="The countries the entry concerns, whose national auditors see it; null on "
        "entries written before entries named them (chain format 1)."
    )
    sealed: bool = Field(description="False until the sealer gives it its chain position.")
    chain_position: int | None
    chain_hash: str | None = Field(description="SHA-256 chain hash, lowercase hex.")
    sealed_at: datetime | None


class AuditEntryPage(BaseModel):
    """Sealed entries in chain order (their positions), then, on the last page, the entries
    not sealed yet, by id, as far as the page has room. Reading by position misses nothing:
    an entry sealed after a page was read comes after it in the chain, so it is on a later
    page, even when its id is lower (ids are taken before commit, positions after)."""

    items: list[AuditEntryOut]
    next_cursor: str | None = Field(
        description="The next page; null on the last page of what is sealed now."
    )
    resume_cursor: str = Field(
        description="Pass it later to read on from this page: what is sealed after it, "
        "the unsealed entries shown here among them once sealed."
    )
