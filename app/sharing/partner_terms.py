"""The terms a submission is held to: a partner's agreement, or the rules of member shares.

A partner's agreement (app/models/shared_data.py PartnerAgreement) says what it may submit:
in force (valid_from <= now < valid_until) or nothing at all; object types; a daily volume;
a handling-code ceiling; what an unmarked object becomes; retention. Member agencies' shares
take any type, any handling code, unmarked objects as RELAY247_SHARE_UNMARKED_HANDLING, and
RELAY247_SHARE_RETENTION_DAYS.

Identities. An object may not claim another author: its ``created_by_ref`` must be absent or
the submitting agency's own STIX identity, ``identity--<UUIDv5(IDENTITY_NAMESPACE below,
agency id)>`` (:func:`identity_id`): deterministic, so a partner computes it once from its
agency id (GET /v1/me tells it) and every instance agrees without a table.

Daily volume: the objects a partner's submissions of the current UTC day took in (their
success_count, idempotent re-sends included: the volume is what it sends, not only what was
new), plus the bundle's objects, must not pass daily_object_limit; else the whole bundle is
refused (a status whose every object failed with that reason: not a 429, since a retry does
not help before the next UTC day). A partner's submissions are serialized by a lock on its
agreement row, so two bundles sent at once cannot both pass the limit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ForbiddenError
from app.core.settings import SharingSettings
from app.identity.auth import Actor
from app.models import DataSubmission, PartnerAgreement
from app.models.enums import HandlingCode, Role, UnmarkedObjects
from app.stix.markings import exceeds

IDENTITY_NAMESPACE = uuid.UUID("6f1f4c2a-3b8e-4d7a-9c15-2470b2a4e247")
# Marking definitions are metadata (TLP's own definitions travel in bundles): never refused
# as unmarked, stored as TLP:CLEAR.
_METADATA_TYPES = frozenset({"marking-definition"})


def identity_id(agency_id: uuid.UUID) -> str:
    """The STIX identity an agency's objects may name as their author."""
    return f"identity--{uuid.uuid5(IDENTITY_NAMESPACE, str(agency_id))}"


@dataclass(frozen=True, slots=True)
class Terms:
    identity: str
    object_types: frozenset[str] | None  # None: any
    ceiling: HandlingCode | None  # None: any
    unmarked: HandlingCode | None  # None: refused
    retention_days: int
    daily_limit: int | None  # None: no limit
    used_today: int = 0
    partner: bool = False


async def terms_for(
    session: AsyncSession, actor: Actor, settings: SharingSettings, *, now: datetime
) -> Terms:
    """The submitter's terms; a partner's agreement is locked to the end of the transaction
    (see the module's docstring). ForbiddenError when a partner has none in force."""
    identity = identity_id(actor.agency_id)
    if actor.role is not Role.PARTNER:
        return Terms(
            identity=identity,
            object_types=None,
            ceiling=None,
            unmarked=settings.share_unmarked_handling,
            retention_days=settings.share_retention_days,
            daily_limit=None,
        )
    agreement = await session.scalar(
        select(PartnerAgreement)
        .where(PartnerAgreement.partner_agency_id == actor.agency_id)
        .with_for_update()
    )
    if agreement is None:
        raise ForbiddenError("this partner has no agreement: nothing may be submitted")
    if agreement.valid_from > now or (
        agreement.valid_until is not None and agreement.valid_until <= now
    ):
        raise ForbiddenError("this partner's agreement is not in force: nothing may be submitted")
    used = await session.scalar(
        select(func.coalesce(func.sum(DataSubmission.success_count), 0)).where(
            DataSubmission.agency_id == actor.agency_id,
            DataSubmission.created_at
            >= now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
        )
    )
    return Terms(
        identity=identity,
        object_types=frozenset(agreement.object_types),
        ceiling=agreement.handling_ceiling,
        unmarked=agreement.default_handling
        if agreement.unmarked is UnmarkedObjects.DEFAULT
        else None,
        retention_days=agreement.retention_days,
        daily_limit=agreement.daily_object_limit,
        used_today=int(used or 0),
        partner=True,
    )


def volume_refusal(terms: Terms, count: int) -> str | None:
    """Why a bundle of ``count`` objects passes the daily volume, if it does."""
    if terms.daily_limit is None or terms.used_today + count <= terms.daily_limit:
        return None
    return (
        f"not stored: the agreement's daily volume of {terms.daily_limit} objects would be "
        f"exceeded ({terms.used_today} taken in today, UTC, and {count} in this bundle)"
    )


def object_refusal(
    terms: Terms, obj: dict[str, Any], marked: HandlingCode | None
) -> tuple[str | None, HandlingCode]:
    """Why the terms refuse one (valid) object, if they do, and its handling code."""
    object_type = obj["type"]
    if terms.object_types is not None and object_type not in terms.object_types:
        return f"the agreement does not allow objects of type {object_type}", HandlingCode.RED
    creator = obj.get("created_by_ref")
    if creator is not None and creator != terms.identity:
        return (
            f"created_by_ref names another identity: it must be absent or {terms.identity}",
            HandlingCode.RED,
        )
    if marked is None:
        if object_type in _METADATA_TYPES:
            return None, HandlingCode.CLEAR
        if terms.unmarked is None:
            return "no TLP marking: the agreement refuses unmarked objects", HandlingCode.RED
        marked = terms.unmarked
    if terms.ceiling is not None and exceeds(marked, terms.ceiling):
        return (
            f"marked TLP:{marked.value}, above the agreement's ceiling TLP:{terms.ceiling.value}",
            marked,
        )
    return None, marked
