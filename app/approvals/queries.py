"""One held request, and the list an approver (or its sender) works from."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.approvals import views
from app.approvals.schemas import ApprovalOut, ApprovalPage
from app.core.errors import NotFoundError
from app.core.pagination import Cursor
from app.directory import person_refs
from app.identity import policy
from app.identity.auth import Actor
from app.models import Approval
from app.models.enums import ApprovalStatus


def visible_to(actor: Actor) -> ColumnElement[bool]:
    return policy.where(actor, policy.Action.READ_APPROVALS, Approval)


async def find(
    session: AsyncSession, actor: Actor, approval_id: uuid.UUID, *, for_update: bool = False
) -> Approval:
    """The held request, if the actor may see it (else 404, as if it did not exist);
    ``for_update``: with its row lock, which every decision, cancel and expiry takes first,
    so that of two at once the second sees what the first did."""
    query = select(Approval).where(Approval.id == approval_id, visible_to(actor))
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFoundError(f"no request held for approval with id {approval_id}")
    return found


async def get(
    session: AsyncSession, actor: Actor, approval_id: uuid.UUID, *, with_content: bool = True
) -> ApprovalOut:
    """The held request; its content (while it waits) is a read, audited like a request's."""
    approval = await find(session, actor, approval_id)
    reads = with_content and approval.draft is not None
    if reads:
        await views.record(session, actor, "approval.read", approval)
    people = await person_refs.describe(session, actor, [approval.created_by, approval.decided_by])
    return views.view(approval, actor, with_content=reads, people=people)


async def list_approvals(
    session: AsyncSession,
    actor: Actor,
    *,
    status: ApprovalStatus | None,
    cursor: str | None,
    limit: int,
) -> ApprovalPage:
    """Newest first, metadata only: the held requests of the actor's agency (a unit officer)
    or sent from its country (an NCB)."""
    policy.require(actor, policy.Action.READ_APPROVALS)
    query = select(Approval).where(visible_to(actor))
    if status is not None:
        query = query.where(Approval.status == status)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(
            tuple_(Approval.created_at, Approval.id) < tuple_(after.created_at, after.id)
        )
    rows = list(
        await session.scalars(
            query.order_by(Approval.created_at.desc(), Approval.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return ApprovalPage(
        items=[views.view(row, actor) for row in rows],
        next_cursor=Cursor(last.created_at, last.id).encode() if more and last else None,
    )
