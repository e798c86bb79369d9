"""Cybercrime data shared through relay247 (app/sharing, app/taxii, app/matching).

One store of STIX 2.1 objects, in TAXII collections: each partner's inbox (quarantine), the
gateway collection (partner data the global desk accepted) and member agencies' shares. A
stored object is never edited: a new version is a new row, a triage decision is written beside
the row, and an accepted object is copied into the gateway with a link to its source row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import (
    CollectionKind,
    HandlingCode,
    IdentifierKind,
    ObjectOrigin,
    Triage,
    UnmarkedObjects,
    db_enum,
)
from app.models.ownership import OwnerColumns

# The one gateway collection: written by migration 0020, so that it exists before any partner.
GATEWAY_COLLECTION_ID = uuid.UUID("5e1a7c0e-2a1f-4d4b-9c57-000000000001")


class PartnerAgreement(Base):
    """What a private partner may submit and under which terms (INTERPOL's Rules on the
    Processing of Data: no data from a private entity without a prior agreement). One per
    partner; a change is audited, and an ended one (valid_until past) refuses every submit."""

    __tablename__ = "partner_agreements"
    __table_args__ = (
        CheckConstraint("daily_object_limit > 0", name="daily_object_limit_positive"),
        CheckConstraint("retention_days BETWEEN 1 AND 36500", name="retention_days_range"),
        CheckConstraint(
            "(unmarked = 'default') = (default_handling IS NOT NULL)",
            name="default_handling_when_unmarked_default",
        ),
    )
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(agency="partner_agency_id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    partner_agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id"), nullable=False, unique=True
    )
    # STIX types it may submit (indicator, ipv4-addr, ...); anything else is refused per object.
    object_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    daily_object_limit: Mapped[int] = mapped_column(Integer, nullable=False)
    handling_ceiling: Mapped[HandlingCode] = mapped_column(
        db_enum(HandlingCode, name="partner_handling_ceiling"), nullable=False
    )
    unmarked: Mapped[UnmarkedObjects] = mapped_column(db_enum(UnmarkedObjects), nullable=False)
    default_handling: Mapped[HandlingCode | None] = mapped_column(
        db_enum(HandlingCode, name="partner_default_handling")
    )
    retention_days: Mapped[int] = mapped_column(Integer, nullable=False)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))


class DataCollection(Base):
    """A TAXII 2.1 collection. ``audience`` names the countries that read a share (NULL: the
    whole network); an inbox is read by its partner and the global desk only."""

    __tablename__ = "data_collections"
    __table_args__ = (
        Index(
            "uq_data_collections_inbox",
            "owner_agency_id",
            unique=True,
            postgresql_where=text("kind = 'inbox'"),
        ),
        CheckConstraint(
            "(kind = 'gateway') = (owner_agency_id IS NULL)", name="only_gateway_unowned"
        ),
        CheckConstraint("kind = 'share' OR audience IS NULL", name="audience_only_for_shares"),
    )
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(agency="owner_agency_id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[CollectionKind] = mapped_column(db_enum(CollectionKind), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(String(1000))
    owner_agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agencies.id"))
    audience: Mapped[list[str] | None] = mapped_column(ARRAY(CHAR(2)))
    created_at: Mapped[datetime] = created_at_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))


class DataSubmission(Base):
    """One POST of a bundle (TAXII) or a MISP event: its TAXII status resource. A bundle is
    stored whole or not at all; ``failures`` says why of each object that failed."""

    __tablename__ = "data_submissions"
    __table_args__ = (Index("ix_data_submissions_agency", "agency_id", "created_at"),)
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(agency="agency_id")

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("data_collections.id"), nullable=False
    )
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False)
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    format: Mapped[str] = mapped_column(String(8), nullable=False)  # stix | misp
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # pending | complete
    total_count: Mapped[int] = mapped_column(Integer, nullable=False)
    success_count: Mapped[int] = mapped_column(Integer, nullable=False)
    failure_count: Mapped[int] = mapped_column(Integer, nullable=False)
    pending_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # [{"id": ..., "version": ..., "message": ...}] of each object that was not stored.
    failures: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default="[]"
    )
    created_at: Mapped[datetime] = created_at_column()


class StixObject(Base):
    """One version of one STIX object in one collection, as it was submitted (``object``,
    NULL once purged), with the handling code read from its TLP marking (or the agreement's
    default). Rows are never updated but for triage (on inbox rows) and purge."""

    __tablename__ = "stix_objects"
    __table_args__ = (
        # Also how an id is found across collections (search): each collection a reader may
        # see is one probe of this key, so no index of stix_id alone is kept up at intake.
        UniqueConstraint("collection_id", "stix_id", "version"),
        # TAXII's paging: a collection's objects in the order they were added.
        Index("ix_stix_objects_added", "collection_id", "date_added", "row_id"),
        Index(
            "ix_stix_objects_quarantined",
            "date_added",
            postgresql_where=text("triage = 'quarantined'"),
        ),
        Index("ix_stix_objects_submission", "submission_id"),
        Index(
            "ix_stix_objects_purge_due",
            "purge_after",
            postgresql_where=text("purged_at IS NULL AND legal_hold_at IS NULL"),
        ),
        CheckConstraint(
            "(origin = 'accepted') = (source_row_id IS NOT NULL)", name="accepted_has_source"
        ),
    )

    row_id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("data_collections.id"), nullable=False
    )
    submission_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("data_submissions.id"))
    origin: Mapped[ObjectOrigin] = mapped_column(db_enum(ObjectOrigin), nullable=False)
    # The quarantined row an accepted copy was made from: its provenance (partner, bundle).
    source_row_id: Mapped[int | None] = mapped_column(ForeignKey("stix_objects.row_id"))
    stix_id: Mapped[str] = mapped_column(String(128), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    spec_version: Mapped[str] = mapped_column(String(8), nullable=False)
    # `modified` (or `created`); for objects that carry neither (SCOs), when it was added.
    version: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    date_added: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()")
    )
    object: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # SHA-256 of the object's RFC 8785 canonical JSON: what the audit trail names.
    object_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    handling_code: Mapped[HandlingCode] = mapped_column(db_enum(HandlingCode), nullable=False)
    triage: Mapped[Triage | None] = mapped_column(db_enum(Triage))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(1000))
    purge_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    legal_hold_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    legal_hold_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IndicatorValue(Base):
    """A typed identifier a stored object carries (app/stix/identifiers.py normalizes it),
    for matching against requests. Only objects of the store (gateway and shares), never the
    quarantine: data nobody accepted matches nothing."""

    __tablename__ = "indicator_values"
    # A row's values, found by row: what the purge of shared data and the cascade delete.
    __table_args__ = (Index("ix_indicator_values_object", "object_row_id"),)

    kind: Mapped[IdentifierKind] = mapped_column(db_enum(IdentifierKind), primary_key=True)
    value: Mapped[str] = mapped_column(String(2048), primary_key=True)
    object_row_id: Mapped[int] = mapped_column(
        ForeignKey("stix_objects.row_id", ondelete="CASCADE"), primary_key=True
    )


class RequestIdentifier(Base):
    """A request's identifiers, normalized as indicators' are, while its content is kept (the
    purge deletes them with the content)."""

    __tablename__ = "request_identifiers"
    __table_args__ = (Index("ix_request_identifiers_request", "request_id"),)

    kind: Mapped[IdentifierKind] = mapped_column(db_enum(IdentifierKind), primary_key=True)
    value: Mapped[str] = mapped_column(String(2048), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )


class RequestMatch(Base):
    """A stored object that carries one of a request's identifiers: found when either arrived.
    Who may see it is decided when it is read (both sides' handling codes)."""

    __tablename__ = "request_matches"
    __table_args__ = (Index("ix_request_matches_object", "object_row_id"),)

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    object_row_id: Mapped[int] = mapped_column(
        ForeignKey("stix_objects.row_id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[IdentifierKind] = mapped_column(db_enum(IdentifierKind), nullable=False)
    value: Mapped[str] = mapped_column(String(2048), nullable=False)
    found_at: Mapped[datetime] = created_at_column()
    # When the requester was told (an event on its agency's channel), if it was.
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
