"""What the two sides of a request exchange: its transitions, its thread and its files."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import (
    HandlingCode,
    OnwardUse,
    RequestAction,
    RequestStatus,
    Side,
    SourceReliability,
    db_enum,
)


class RequestTransition(Base):
    """One step of a request's life: who did what, from which state to which, and why.

    Append-only; the history endpoint reads it in id order. The reason is content: it is
    shown only to who may read the request's content, and purged with it.
    """

    __tablename__ = "request_transitions"
    __table_args__ = (Index("ix_request_transitions_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), nullable=False)
    # NULL for the submission (no action: the request came to be) and for what the service
    # does by itself.
    action: Mapped[RequestAction | None] = mapped_column(db_enum(RequestAction))
    from_status: Mapped[RequestStatus | None] = mapped_column(
        db_enum(RequestStatus, name="from_status")
    )
    to_status: Mapped[RequestStatus] = mapped_column(
        db_enum(RequestStatus, name="to_status"), nullable=False
    )
    side: Mapped[Side | None] = mapped_column(db_enum(Side))
    actor_principal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    actor_agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agencies.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = created_at_column()


class Message(Base):
    """One message of a request's thread. ``seq`` orders the thread without gaps: it is taken
    under the request's row lock, so pages never skip a message committed late."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("request_id", "seq"),
        CheckConstraint("information_accuracy BETWEEN 1 AND 4", name="information_accuracy"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    side: Mapped[Side] = mapped_column(db_enum(Side), nullable=False)
    author_principal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("principals.id"), nullable=False
    )
    author_agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False)
    # NULL once purged; the hash stays, for the audit trail.
    text: Mapped[str | None] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    handling_code: Mapped[HandlingCode] = mapped_column(db_enum(HandlingCode), nullable=False)
    onward_use: Mapped[list[OnwardUse]] = mapped_column(ARRAY(String(2)), nullable=False)
    handling_note: Mapped[str | None] = mapped_column(String(500))
    source_reliability: Mapped[SourceReliability | None] = mapped_column(db_enum(SourceReliability))
    information_accuracy: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = created_at_column()
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvidenceFile(Base):
    """A file given to a request (or to one of its messages). The bytes live in a blob store
    under ``storage_key`` (app/exchange/files/storage.py); a re-shared file points at the
    same bytes as the file it came from."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_request_created", "request_id", "created_at", "id"),
        Index("ix_files_storage_key", "storage_key"),
        CheckConstraint("size >= 0", name="size_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), nullable=False)
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id"))
    side: Mapped[Side] = mapped_column(db_enum(Side), nullable=False)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    # The owner: the agency whose permission an H2 file needs to be re-shared.
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))  # NULL once purged: it names people
    content_type: Mapped[str] = mapped_column(String(255), nullable=False)  # sniffed
    declared_type: Mapped[str | None] = mapped_column(String(255))  # what the client said
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    handling_code: Mapped[HandlingCode] = mapped_column(db_enum(HandlingCode), nullable=False)
    onward_use: Mapped[list[OnwardUse]] = mapped_column(ARRAY(String(2)), nullable=False)
    handling_note: Mapped[str | None] = mapped_column(String(500))
    storage_key: Mapped[str | None] = mapped_column(String(200))  # NULL once purged
    shared_from: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("files.id"))
    created_at: Mapped[datetime] = created_at_column()
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SharePermission(Base):
    """An owner's recorded permission to re-share one of its H2 files into another request."""

    __tablename__ = "share_permissions"
    __table_args__ = (UniqueConstraint("file_id", "request_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("files.id"), nullable=False)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"), nullable=False)
    granted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()


class BlobChunk(Base):
    """The bytes of stored files, in chunks, for the Postgres blob store."""

    __tablename__ = "blob_chunks"

    storage_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(nullable=False)
