"""When a request needs a second officer's approval, who may give it, and who is told.

Approval is needed for an emergency disclosure when its sending country's policy says so
(``countries.four_eyes``) or an access agreement that covers it does
(``access_agreements.four_eyes``). Submit asks only for that type, so no other request pays a
round trip for four-eyes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Uuid, and_, bindparam, exists, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ConflictError, ForbiddenError
from app.identity import policy
from app.identity.auth import Actor
from app.models import AccessAgreement, Agency, Approval, Country, Principal
from app.models.enums import ApprovalRequirement, ApprovalStatus, RequestType, Role

# The one request type that four-eyes may hold.
HELD_TYPE = RequestType.EMERGENCY_DISCLOSURE

_REQUIREMENT = select(
    select(Country.four_eyes)
    .where(Country.code == bindparam("country"))
    .scalar_subquery()
    .label("country_policy"),
    exists()
    .where(
        AccessAgreement.id == bindparam("covering", type_=ARRAY(Uuid)).any_(),
        AccessAgreement.four_eyes,
    )
    .label("agreement"),
)


async def requirement(
    session: AsyncSession, *, country: str, covering: Sequence[uuid.UUID]
) -> ApprovalRequirement | None:
    """What requires approval of an emergency disclosure sent from ``country`` under the
    agreements ``covering`` it (the ones that let it be sent); None: nothing does. The
    country's policy is named first: it holds whatever the agreements say."""
    row = (
        await session.execute(_REQUIREMENT, {"country": country, "covering": list(covering)})
    ).one()
    if row.country_policy:
        return ApprovalRequirement.COUNTRY_POLICY
    if row.agreement:
        return ApprovalRequirement.AGREEMENT
    return None


def require_decider(actor: Actor, approval: Approval) -> None:
    """A second officer: of the sending agency or its country's NCB (the policy), and not the
    officer who sent it (four eyes, not two)."""
    policy.require(actor, policy.Action.DECIDE_APPROVAL, approval)
    if actor.principal_id == approval.created_by:
        raise ForbiddenError(
            "you sent this request: a second officer of your agency or your country's NCB "
            "must approve or refuse it"
        )


def may_decide(actor: Actor, approval: Approval) -> bool:
    return approval.status is ApprovalStatus.AWAITING and (
        policy.permits(actor, policy.Action.DECIDE_APPROVAL, approval)
        and actor.principal_id != approval.created_by
    )


def require_awaiting(approval: Approval, doing: str) -> None:
    """Only a held request is decided or cancelled, once: whoever comes second (the other
    approver, the cancel, the expiry) is told what happened first, with a 409."""
    if approval.status is ApprovalStatus.AWAITING:
        return
    by = f" ({approval.decided_role.value})" if approval.decided_role else ""
    raise ConflictError(
        f"cannot {doing}: this request is already {approval.status.value.replace('_', ' ')}"
        f"{by}" + (f" at {approval.decided_at.isoformat()}" if approval.decided_at else "")
    )


async def approvers(session: AsyncSession, approval: Approval) -> list[uuid.UUID]:
    """The people who may approve it, and are told it waits: the sending agency's unit
    officers and its country's NCB officers, enabled, but its sender."""
    found = await session.scalars(
        select(Principal.id)
        .join(Agency, Agency.id == Principal.agency_id)
        .where(
            Principal.disabled_at.is_(None),
            Principal.id != approval.created_by,
            or_(
                and_(
                    Principal.role == Role.UNIT,
                    Principal.agency_id == approval.requesting_agency_id,
                ),
                and_(
                    Principal.role == Role.NCB,
                    Agency.country_code == approval.requesting_country,
                ),
            ),
        )
        .order_by(Principal.id)
    )
    return list(found)
