from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import CHAR, BigInteger, CheckConstraint, DateTime, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.ownership import OwnerColumns


class AuditEntry(Base):
    """Who did or read what, when, from where, to which object. Holds a hash of the content,
    never the content itself.

    Written unsealed (no chain position, hash or seal time) in the transaction of what it
    records; the sealer (app/audit/sealer.py) then gives it its place in the hash
    chain. Triggers (migration 0009) refuse any other change, any DELETE and TRUNCATE: see
    docs/audit-chain.md."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_object", "object_type", "object_id"),
        # "Entries concerning country X": a national auditor's every read (migration 0011).
        Index("ix_audit_entries_countries", "countries", postgresql_using="gin"),
        # Time ranges: entries are written in time order, so a BRIN index costs inserts little.
        Index("ix_audit_entries_occurred_at", "occurred_at", postgresql_using="brin"),
        # Entries naming a request in their details (a message's, a file's): the request
        # filter of the audit trail's readers (app/audit/query.py).
        Index(
            "ix_audit_entries_named_request",
            text("(details ->> 'request_id')"),
            postgresql_where=text("details ? 'request_id'"),
        ),
        # The sealer's work list: committed entries without a position, in id order. Partial,
        # so it holds only the few entries written since the last round.
        Index(
            "ix_audit_entries_unsealed",
            "id",
            postgresql_where=text("chain_position IS NULL"),
        ),
        # Sealed all at once or not at all, and a position is a place in the chain (from 1).
        CheckConstraint(
            "(chain_position IS NULL AND chain_hash IS NULL AND sealed_at IS NULL) OR "
            "(chain_position >= 1 AND chain_hash ~ '^[0-9a-f]{64}$' AND sealed_at IS NOT NULL)",
            name="sealed_whole",
        ),
    )
    # An entry belongs to every country it concerns, and to no agency or principal: who acted
    # is what it records, not whom it belongs to.
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(countries="countries")

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = created_at_column()
    actor_principal_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_agency_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_role: Mapped[str | None] = mapped_column(String(32))
    actor_country: Mapped[str | None] = mapped_column(CHAR(2))
    remote_addr: Mapped[str | None] = mapped_column(INET)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    object_type: Mapped[str] = mapped_column(String(32), nullable=False)
    object_id: Mapped[str] = mapped_column(String(64), nullable=False)
    content_hash: Mapped[str | None] = mapped_column(CHAR(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    # The countries the entry concerns (its object's, and the acting principal's unless it is
    # the General Secretariat's), sorted: what a national auditor may see. NULL only on entries
    # written before migration 0011, which keep the chain format they were sealed in.
    countries: Mapped[list[str] | None] = mapped_column(
        ARRAY(CHAR(2)), server_default=text("'{}'::char(2)[]")
    )
    # The hash chain: null until sealed. The position is the chain's total order (the order
    # of sealing, not of ids: ids are taken at insert and commit out of order).
    chain_position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    chain_hash: Mapped[str | None] = mapped_column(CHAR(64))  # SHA-256, lowercase hex
    sealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
