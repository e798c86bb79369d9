from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    CHAR,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import (
    Assignment,
    EscalationTarget,
    HandlingCode,
    OnwardUse,
    Priority,
    RequestStatus,
    RequestType,
    Role,
    db_enum,
)
from app.models.ownership import OwnerColumns


class CooperationRequest(Base):
    """A cooperation request from a national unit to another country's 24/7 contact point."""

    __tablename__ = "requests"
    __table_args__ = (
        # A drill (drill_id set) is sent to its desk from the network, not from another
        # country: it counts as its own country's, so nobody but that country and the global
        # desk ever sees it (app/drills/).
        CheckConstraint(
            "requesting_country <> target_country OR drill_id IS NOT NULL",
            name="not_to_own_country",
        ),
        # Keyset pagination for each way of seeing requests: by target desk, by sender, all.
        Index("ix_requests_target_created", "target_country", "created_at", "id"),
        Index("ix_requests_agency_created", "requesting_agency_id", "created_at", "id"),
        Index("ix_requests_created", "created_at", "id"),
        Index("ix_requests_assigned_created", "assigned_to", "created_at", "id"),
        # The all-requests search: an NCB's requests sent from its country, and a status
        # (closed, say) within a desk's country, newest first (migration 0016).
        Index("ix_requests_sending_created", "requesting_country", "created_at", "id"),
        Index("ix_requests_target_status_created", "target_country", "status", "created_at", "id"),
        # The words of the headline, for the search's ``q`` (app/requests/search.py
        # HEADLINE_WORDS, the same expression): pg_trgm would serve substrings, but the
        # embedded Postgres ships without it.
        Index(
            "ix_requests_headline_words",
            text("to_tsvector('simple', headline)"),
            postgresql_using="gin",
        ),
        # What a dashboard's welcome lists: requests no screen has confirmed yet (a few).
        Index(
            "ix_requests_unconfirmed",
            "target_country",
            "created_at",
            postgresql_where="status = 'submitted' AND delivered_at IS NULL",
        ),
        # What the purge job looks for: closed, not yet purged.
        Index(
            "ix_requests_purge_due",
            "closed_at",
            postgresql_where="purged_at IS NULL AND closed_at IS NOT NULL",
        ),
        CheckConstraint("retention_days BETWEEN 1 AND 36500", name="retention_days_range"),
        CheckConstraint(
            "(legal_hold_at IS NULL) = (legal_hold_by IS NULL)", name="legal_hold_complete"
        ),
    )
    # A request belongs to its target country and to the agency that sent it; it was sent
    # from the sender's country and is held by its assignee, if any (app/identity/policy.py).
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(
        country="target_country",
        agency="requesting_agency_id",
        sending_country="requesting_country",
        holder="assigned_to",
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type: Mapped[RequestType] = mapped_column(db_enum(RequestType), nullable=False)
    priority: Mapped[Priority] = mapped_column(db_enum(Priority), nullable=False)
    status: Mapped[RequestStatus] = mapped_column(db_enum(RequestStatus), nullable=False)

    requesting_agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id"), nullable=False
    )
    requesting_country: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), nullable=False
    )
    target_country: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("countries.code"), nullable=False
    )
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("principals.id"), nullable=False)

    # Metadata its sender writes, shown in queues and lists to whoever sees the request (its
    # auditors too): what it is about, in a line, without reading its content. Not content:
    # not in content_hash, not purged, and seeing it is no audited read.
    headline: Mapped[str | None] = mapped_column(String(120))

    # The content: NULL once purged at the end of its retention (purged_at says when).
    subject: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[str | None] = mapped_column(Text)
    identifiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    legal_basis: Mapped[str | None] = mapped_column(String(500))
    handling_code: Mapped[HandlingCode] = mapped_column(db_enum(HandlingCode), nullable=False)
    onward_use: Mapped[list[OnwardUse]] = mapped_column(ARRAY(String(2)), nullable=False)
    # The restriction that H3 stands for, in words (required with H3).
    handling_note: Mapped[str | None] = mapped_column(String(500))
    # SHA-256 of the canonical content: what audit entries and auditors see instead of it.
    content_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)

    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    # The first confirmed receipt by a principal of the target country (a dashboard's
    # `received` frame): the request reached a person's screen.
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    # When it was first answered (respond): with created_at, delivered_at and acknowledged_at,
    # the times to deliver, acknowledge and respond that analytics read.
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The contact point holding the request; None: the target desk as a whole (and its NCB).
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    assignment: Mapped[Assignment] = mapped_column(
        db_enum(Assignment), nullable=False, server_default=Assignment.DESK.value
    )
    assigned_at: Mapped[datetime] = created_at_column()
    # The agency of the contact point holding it, kept with assigned_to. No rule reads it any
    # more: TLP:RED content is for the holder itself, not its agency (app/identity/policy.py).
    assigned_agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agencies.id"))

    # Bumped by every change: an optimistic caller sends it back in If-Match.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    # When it reached a final state (closed, declined, cancelled); cleared by a reopen.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Days its content is kept after closed_at, from the policy of its type at creation.
    retention_days: Mapped[int] = mapped_column(Integer, nullable=False)
    legal_hold_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    legal_hold_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    legal_hold_reason: Mapped[str | None] = mapped_column(String(500))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Escalation (app/deadlines/worker.py): the step of its escalation policy that holds
    # it now (0: the first), when it last moved on, and until when that step has to
    # acknowledge; overdue_at: when it passed the last step (the global desk) unacknowledged.
    escalation_step: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Whom the step it is at reaches, kept with escalation_step by the worker: lists say who
    # is being chased (the NCB, the global desk) without reading the policy. None: step 0.
    escalated_to: Mapped[EscalationTarget | None] = mapped_column(
        db_enum(EscalationTarget, name="request_escalated_to")
    )
    ack_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The legal response clock (written by app/deadlines/rows.py, fired by
    # app/deadlines/worker.py): until when it must be answered (moved later by the time it
    # waited on its requester), since when it waits on the requester (the clock is paused),
    # and when the clock ran out unanswered.
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The readiness drill this request is (app/drills/); None: a real request. The one
    # predicate that keeps drills out of statistics: ``drill_id IS NULL``.
    drill_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("drills.id"), unique=True)
    # Four-eyes (app/approvals/): when a second officer approved it before it was sent, and
    # in which role (a unit officer of the sending agency, or its country's NCB); the target
    # sees both. NULL: it needed no approval.
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by_role: Mapped[Role | None] = mapped_column(
        db_enum(Role, name="request_approved_by_role")
    )
