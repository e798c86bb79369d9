"""Feedback to partners, as STIX 2.1 sightings written into the partner's inbox collection,
which the partner reads over TAXII like anything else there.

What the network tells a partner of an accepted object is one of MISP's three sighting kinds
(``seen``, ``false_positive``, ``expired``). STIX has no word for the last two, so each
sighting carries the kind in a property extension (:data:`EXTENSION_DEFINITION`, relay247's
extension-definition) rather than in a bare custom property, which a strict validator flags.
A sighting is made by relay247's identity, never by the analyst or the country who reported:
a partner learns what the network saw, not who.

One sighting per object and kind: the first report makes it, each later one is a new
version of it (``count`` plus one, ``last_seen`` now), as STIX versions objects; nothing is
edited. Who reports: the global desk any kind; a member country's unit, desk or NCB that
reads the accepted object in the gateway may report ``seen`` and ``false_positive`` (it is
who meets the data in its cases); ``expired`` is the desk's call.

Rejections and requests for more information are not sightings (a sighting says the object
was met in the world): the partner reads them, with the desk's note, from its submission
(GET /v1/shared-data/submissions/{id}/objects).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.canonical import sha256_hex
from app.core.errors import ConflictError, ForbiddenError, NotFoundError
from app.identity.auth import Actor
from app.models import DataCollection, StixObject
from app.models.enums import Feedback, ObjectOrigin, Role, Triage
from app.models.shared_data import GATEWAY_COLLECTION_ID
from app.sharing.visibility import readable_objects, sees_everything
from app.stix.markings import marking_ref
from app.stix.validation import problems

# relay247 itself, as the author of what it writes back (a fixed UUIDv5 of its name).
_NAMESPACE = uuid.UUID("5e1a7c0e-2a1f-4d4b-9c57-0000000000f0")
IDENTITY_ID = f"identity--{uuid.uuid5(_NAMESPACE, 'relay247')}"
EXTENSION_ID = f"extension-definition--{uuid.uuid5(_NAMESPACE, 'relay247-feedback-1')}"
EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": EXTENSION_ID,
    "created": "2025-01-01T00:00:00.000Z",
    "modified": "2025-01-01T00:00:00.000Z",
    "created_by_ref": IDENTITY_ID,
    "name": "relay247 feedback",
    "description": "The kind of a sighting relay247 writes back to a partner: seen, "
    "false_positive (the object misled) or expired (no longer of use), as MISP's sightings.",
    "schema": "https://relay247.invalid/stix/extensions/feedback-1.0.json",
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}
# What member countries may report; the rest is the global desk's.
_MEMBERS_MAY = frozenset({Feedback.SEEN, Feedback.FALSE_POSITIVE})
_MEMBER_ROLES = frozenset({Role.UNIT, Role.CONTACT_POINT, Role.NCB})
OBJECT_TYPE = "stix_object"


def sighting_id(object_id: str, kind: Feedback) -> str:
    return f"sighting--{uuid.uuid5(_NAMESPACE, f'{object_id}|{kind.value}')}"


def _stix_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def kind_of(sighting: dict[str, Any]) -> Feedback | None:
    extension = (sighting.get("extensions") or {}).get(EXTENSION_ID) or {}
    try:
        return Feedback(str(extension.get("feedback")))
    except ValueError:
        return None


async def _accepted_pair(
    session: AsyncSession, actor: Actor, row_id: int
) -> tuple[StixObject, StixObject]:
    """The partner's source row (locked: reports of one object are versioned one at a time)
    and its accepted copy in the gateway, from either's row id."""
    s = StixObject
    row = await session.scalar(
        select(s)
        .join(DataCollection, DataCollection.id == s.collection_id)
        .where(s.row_id == row_id, readable_objects(actor))
    )
    if row is None:
        raise NotFoundError(f"no shared object {row_id} that you may see")
    source_id = row.source_row_id if row.origin is ObjectOrigin.ACCEPTED else row.row_id
    source = await session.scalar(select(s).where(s.row_id == source_id).with_for_update())
    copy = await session.scalar(
        select(s).where(s.source_row_id == source_id, s.collection_id == GATEWAY_COLLECTION_ID)
    )
    if source is None or copy is None or source.triage is not Triage.ACCEPTED:
        raise ConflictError(
            f"object {row_id} is not a partner's object the global desk accepted: feedback "
            "goes back to partners about their accepted data only"
        )
    if source.purged_at is not None or source.object is None:
        raise ConflictError(f"object {row_id} was purged at the end of its retention")
    return source, copy


def _may_report(actor: Actor, kind: Feedback) -> None:
    if sees_everything(actor):
        return
    if actor.role not in _MEMBER_ROLES:
        raise ForbiddenError(f"a principal with role {actor.role.value} may not give feedback")
    if kind not in _MEMBERS_MAY:
        raise ForbiddenError(
            f"{kind.value} is the global desk's to say; a member country reports "
            "seen or false_positive"
        )


async def give_feedback(
    session: AsyncSession, actor: Actor, row_id: int, kind: Feedback
) -> dict[str, Any]:
    """Write (a new version of) the sighting of this kind into the partner's inbox; the
    sighting as written."""
    _may_report(actor, kind)
    source, copy = await _accepted_pair(session, actor, row_id)
    assert source.object is not None
    now = (await session.execute(select(func.now()))).scalar_one()
    sid = sighting_id(source.stix_id, kind)
    previous = await session.scalar(
        select(StixObject.object)
        .where(StixObject.collection_id == source.collection_id, StixObject.stix_id == sid)
        .order_by(StixObject.version.desc())
        .limit(1)
    )
    modified = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if previous is not None and _stix_time(modified) <= previous["modified"]:
        # Two reports in one millisecond: versions must differ (and go forward).
        modified = datetime.fromisoformat(previous["modified"]) + timedelta(milliseconds=1)
    stamp = _stix_time(modified)
    sighting: dict[str, Any] = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": sid,
        "created": previous["created"] if previous else stamp,
        "modified": stamp,
        "created_by_ref": IDENTITY_ID,
        "sighting_of_ref": source.stix_id,
        "count": (previous.get("count", 1) + 1) if previous else 1,
        "first_seen": previous["first_seen"] if previous else stamp,
        "last_seen": stamp,
        "object_marking_refs": [marking_ref(source.handling_code)],
        "extensions": {
            EXTENSION_ID: {"extension_type": "property-extension", "feedback": kind.value}
        },
    }
    found = problems(sighting)
    assert not found, found  # ours to get right: a partner's TAXII client must take it
    session.add(
        StixObject(
            collection_id=source.collection_id,
            # The source's submission: how the partner's page finds feedback on its bundles.
            submission_id=source.submission_id,
            origin=ObjectOrigin.FEEDBACK,
            stix_id=sid,
            type="sighting",
            spec_version="2.1",
            version=modified,
            object=sighting,
            object_hash=sha256_hex(sighting),
            handling_code=source.handling_code,
            purge_after=source.purge_after,
        )
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "data.feedback",
        object_type=OBJECT_TYPE,
        object_id=str(source.row_id),
        countries=(),
        content_hash=source.object_hash,
        details={
            "kind": kind.value,
            "sighting_id": sid,
            "count": sighting["count"],
            "gateway_row_id": copy.row_id,
            "collection_id": str(source.collection_id),
        },
    )
    return sighting


async def counts_by_submission(
    session: AsyncSession, submission_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many sightings (of any version) were written back about each submission's objects."""
    ids = list(submission_ids)
    if not ids:
        return {}
    s = StixObject
    rows = await session.execute(
        select(s.submission_id, func.count(s.stix_id.distinct()))
        .where(s.submission_id.in_(ids), s.origin == ObjectOrigin.FEEDBACK)
        .group_by(s.submission_id)
    )
    return {submission_id: count for submission_id, count in rows.all() if submission_id}


async def of_objects(
    session: AsyncSession, rows: Sequence[StixObject]
) -> dict[str, list[tuple[str, int, datetime]]]:
    """Per partner object's STIX id: each feedback kind with its count and last time."""
    submissions = {row.submission_id for row in rows if row.submission_id}
    if not submissions:
        return {}
    s = StixObject
    latest = await session.scalars(
        select(s.object)
        .ext(distinct_on(s.stix_id))
        .where(
            s.submission_id.in_(submissions),
            s.origin == ObjectOrigin.FEEDBACK,
            s.object.is_not(None),
        )
        .order_by(s.stix_id, s.version.desc())
    )
    found: dict[str, list[tuple[str, int, datetime]]] = {}
    for sighting in latest:
        kind = kind_of(sighting) if sighting else None
        if sighting is None or kind is None:
            continue
        found.setdefault(sighting["sighting_of_ref"], []).append(
            (kind.value, sighting["count"], datetime.fromisoformat(sighting["last_seen"]))
        )
    return found
