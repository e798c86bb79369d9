from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import CHAR, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at_column
from app.models.enums import (
    ApprovalRequirement,
    ApprovalStatus,
    HandlingCode,
    Priority,
    RequestType,
    Role,
    db_enum,
)
from app.models.ownership import OwnerColumns


class Approval(Base):
    """A request held until a second officer of its sending agency (or of its country's NCB)
    approves it: four-eyes for emergency disclosure (app/approvals/).

    Not a request yet: no row in ``requests``, so nothing routes, delivers, pushes or counts
    its deadlines. Approved, the request is written through the normal submit with this id.
    ``draft`` holds the submission as sent (its content) while it waits, and is cleared when
    it is decided either way: the content then lives in the request, or nowhere."""

    __tablename__ = "approvals"
    __table_args__ = (
        # What the deadline workers look for: the held requests whose approval time runs out.
        Index("ix_approvals_expiry", "expires_at", postgresql_where="status = 'awaiting_approval'"),
        # An approver's list (its agency's, its country's), newest first.
        Index("ix_approvals_agency_created", "requesting_agency_id", "created_at", "id"),
        Index("ix_approvals_sending_created", "requesting_country", "created_at", "id"),
    )
    # Like a request's sending side: it belongs to its agency and was sent from its country
    # (app/identity/policy.py: the sending agency's officers and its country's NCB).
    owner_columns: ClassVar[OwnerColumns] = OwnerColumns(
        agency="requesting_agency_id", sending_country="requesting_country"
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    status: Mapped[ApprovalStatus] = mapped_column(db_enum(ApprovalStatus), nullable=False)
    required_by: Mapped[ApprovalRequirement] = mapped_column(
        db_enum(ApprovalRequirement), nullable=False
    )
    type: Mapped[RequestType] = mapped_column(db_enum(RequestType), nullable=False)
    priority: Mapped[Priority] = mapped_column(db_enum(Priority), nullable=False)
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
    headline: Mapped[str | None] = mapped_column(String(120))
    handling_code: Mapped[HandlingCode] = mapped_column(db_enum(HandlingCode), nullable=False)
    # The submission as its sender sent it (RequestCreate as JSON); NULL once decided.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    # SHA-256 of its content, as the request's would be: what audit entries hold instead.
    content_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("principals.id"))
    decided_role: Mapped[Role | None] = mapped_column(db_enum(Role, name="approval_decided_role"))
    # The approver's (or the canceller's) reason: refusal needs one.
    reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
