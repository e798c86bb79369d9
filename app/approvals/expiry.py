"""Held requests whose approval time ran out, expired by the deadline workers
(app/deadlines/worker.py) like any other deadline: claimed with their row locks, ``SKIP
LOCKED``, so an approval deciding one at that moment either comes first (and the expiry finds
it decided) or finds it expired (and gets a 409)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.approvals import views
from app.core.database import Database
from app.models import Approval
from app.models.enums import ApprovalStatus

# Approvals expired per transaction.
EXPIRY_BATCH = 32

_awaiting = Approval.status == ApprovalStatus.AWAITING
_DUE = (
    select(Approval, func.now())
    .where(_awaiting, Approval.expires_at <= func.now())
    .order_by(Approval.expires_at)
    .limit(EXPIRY_BATCH)
    .with_for_update(skip_locked=True)
)
# The nearest expiry, for the workers' timer (ix_approvals_expiry answers it).
NEAREST = select(func.min(Approval.expires_at)).where(_awaiting).scalar_subquery()


async def expire_due(database: Database) -> int:
    """Expire up to EXPIRY_BATCH due approvals nobody holds, in one transaction; how many.
    Each is audited, and its event tells its sender (app/alerts/rules.py)."""
    async with database.transaction() as session:
        claimed = (await session.execute(_DUE)).all()
        for approval, now in claimed:
            approval.status = ApprovalStatus.EXPIRED
            approval.decided_at = now
            approval.draft = None  # never sent: its content is not kept
            approval.version += 1
        await session.flush()
        for approval, _ in claimed:
            await views.record(session, None, "approval.expired", approval)
            await views.announce(session, "approval.expired", approval)
    return len(claimed)
