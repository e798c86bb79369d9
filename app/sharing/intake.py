"""Storing a submitted bundle (TAXII POST, or a MISP event converted): all or nothing.

One transaction: the collection must be writable by the submitter; the body is parsed
(bounded depth, no NUL: app/stix/parsing.py), and each object judged
(app/sharing/bundle_judge.py: valid STIX 2.1, within the submitter's terms, no conflict with
the bundle's other objects or the stored ones; the same object again is skipped, so a re-send
is idempotent) as it is written (app/sharing/bundle_rows.py, a chunk at a time).

Any refusal refuses the whole bundle and nothing is stored: the status resource lists each
refused object with its reason, and every other one as failed with "not stored: the bundle
was refused", so a client resends the bundle once fixed (TAXII lets a server fail objects it
could have stored; storing part of a bundle would leave the rest dangling). The status is
final at once ("complete", nothing pending): the work is done before the 202.

A partner's objects land in its inbox, quarantined (no indicator values: data nobody accepted
matches nothing). A member agency's objects go straight to its share, with their indicator
values. Every submission writes its data_submissions row (its status resource) and one audit
entry, "data.submitted" or "data.refused" (counts and the body's SHA-256, no content).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit, matching
from app.core.errors import UnavailableError
from app.core.settings import SharingSettings
from app.identity import policy
from app.identity.auth import Actor
from app.identity.policy import Action
from app.models import DataCollection, DataSubmission, table_of
from app.models.enums import CollectionKind, Triage
from app.sharing import added_order, bundle_judge, bundle_rows, partner_terms, triage
from app.sharing.bundle_judge import Judge
from app.sharing.bundle_rows import AlreadyStored, Refused, StoreTarget
from app.sharing.collections import get_writable, require_share_agreement
from app.sharing.partner_terms import identity_id
from app.stix.errors import BundleError
from app.stix.parsing import load_json
from app.stix.validation import bundle_objects

OBJECT_TYPE = "data_submission"
REFUSED = "not stored: the bundle was refused"
_submissions = table_of(DataSubmission)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A stored or refused submission (its status row), or a body that is no bundle at all
    (``unreadable``: the reason; no status, nothing stored)."""

    submission: DataSubmission | None = None
    unreadable: str | None = None


# Writes of one bundle before it gives up to a race (see store): the first told only of the
# unversioned ids' stored versions, each next of every id's, read after the one before lost.
_WRITE_ATTEMPTS = 3


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def submit_bundle(
    session: AsyncSession,
    actor: Actor,
    collection_id: uuid.UUID,
    body: bytes,
    settings: SharingSettings,
) -> Outcome:
    collection = await get_writable(session, actor, collection_id)
    try:
        objects = await asyncio.to_thread(_objects_of, body, settings.intake_max_objects)
    except BundleError as exc:
        await _refused_unread(session, actor, collection, body_hash(body), str(exc))
        return Outcome(unreadable=str(exc))
    return await store(
        session, actor, collection, objects, settings, fmt="stix", content_hash=body_hash(body)
    )


def _objects_of(body: bytes, most: int) -> list[dict[str, Any]]:
    objects = bundle_objects(load_json(body))
    if len(objects) > most:
        raise BundleError(
            f"The bundle holds {len(objects)} objects, over {most} a POST may: send it in parts"
        )
    return objects


async def submit_misp(
    session: AsyncSession,
    actor: Actor,
    collection_id: uuid.UUID,
    body: bytes,
    settings: SharingSettings,
) -> Outcome:
    """A MISP event, converted to STIX 2.1 (app/stix/misp.py) and stored as a bundle is."""
    collection = await get_writable(session, actor, collection_id)
    try:
        objects = await asyncio.to_thread(
            _misp_objects_of, body, identity_id(actor.agency_id), settings.misp_max_attributes
        )
    except BundleError as exc:
        await _refused_unread(session, actor, collection, body_hash(body), str(exc))
        return Outcome(unreadable=str(exc))
    return await store(
        session, actor, collection, objects, settings, fmt="misp", content_hash=body_hash(body)
    )


def _attribute_count(event: Any) -> int:
    """The attributes of a MISP event, its own and its objects' (what conversion costs)."""
    inner = event.get("Event", event) if isinstance(event, dict) else None
    if not isinstance(inner, dict):
        return 0

    def attributes(holder: Any) -> int:
        found = holder.get("Attribute") if isinstance(holder, dict) else None
        return len(found) if isinstance(found, list) else 0

    held = inner.get("Object")
    return attributes(inner) + sum(map(attributes, held if isinstance(held, list) else []))


def _misp_objects_of(body: bytes, author: str, most: int) -> list[dict[str, Any]]:
    """The converted event's objects, authored by the submitter: misp-stix makes an identity
    of the event's creator organisation (Orgc) and names it in every created_by_ref; the
    submitter is who vouches for the data here, so its own identity replaces that one (and
    the converted identity, which would claim another author, is left out)."""
    # Imported on the first MISP event: misp-stix brings STIX 1 and lxml along, which no other
    # path needs.
    from app.stix.misp import misp_event_to_bundle

    event = load_json(body)
    if (count := _attribute_count(event)) > most:
        raise BundleError(
            f"The MISP event holds {count} attributes, over {most} an event may: send it in parts"
        )
    objects = bundle_objects(misp_event_to_bundle(event))
    creators = {obj["created_by_ref"] for obj in objects if "created_by_ref" in obj}
    kept = []
    for obj in objects:
        if obj.get("type") == "identity" and obj.get("id") in creators:
            continue
        if "created_by_ref" in obj:
            obj["created_by_ref"] = author
        kept.append(obj)
    return kept


async def _refused_unread(
    session: AsyncSession, actor: Actor, collection: DataCollection, digest: str, reason: str
) -> None:
    await audit.record(
        session,
        actor,
        "data.refused",
        object_type="data_collection",
        object_id=str(collection.id),
        countries=collection.audience or [],
        content_hash=digest,
        details={"collection": str(collection.id), "objects": 0, "unreadable": True},
    )


async def store(
    session: AsyncSession,
    actor: Actor,
    collection: DataCollection,
    objects: Sequence[dict[str, Any]],
    settings: SharingSettings,
    *,
    fmt: str,
    content_hash: str,
) -> Outcome:
    """Store ``objects`` in ``collection`` (writable by ``actor``: the caller checked), whole
    or not at all."""
    policy.require(actor, Action.SUBMIT_DATA, policy.Owner(agency_id=actor.agency_id))
    to_store = collection.kind is CollectionKind.SHARE
    if to_store:  # the agreements that let a unit make the share may have ended since
        await require_share_agreement(session, actor, collection.audience)
    await added_order.lock_for_writing(session)  # before date_added is taken: readers wait
    now, date_added = (await session.execute(select(func.now(), func.clock_timestamp()))).one()
    terms = await partner_terms.terms_for(session, actor, settings, now=now)
    submission_id = uuid.uuid4()
    volume = partner_terms.volume_refusal(terms, len(objects))
    if volume is not None:
        return Outcome(
            await _refuse(
                session, actor, collection, submission_id, objects, fmt, content_hash, volume=volume
            )
        )
    target = StoreTarget(
        collection_id=collection.id,
        submission_id=submission_id,
        triage=None if to_store else Triage.QUARANTINED.value,
        date_added=date_added,
        purge_after=date_added + timedelta(days=terms.retention_days),
        with_identifiers=to_store,
    )
    # First told only of the unversioned objects' stored versions (a new bundle's ids are
    # nearly always new, and the store's key checks the others as they are copied); told of
    # every id's when the key finds one stored, or when the bundle must be listed refused.
    for attempt in range(_WRITE_ATTEMPTS):
        judge = Judge(
            terms,
            await bundle_judge.stored_versions(
                session, collection.id, objects, unversioned_only=attempt == 0
            ),
        )
        try:
            async with session.begin_nested():
                submission = await _submission(
                    session, actor, collection, submission_id, fmt, total=len(objects), failures=[]
                )
                written = await bundle_rows.write(session, target, objects, judge)
            break
        except AlreadyStored:
            continue  # rolled back to before the submission row
        except Refused:
            # Rolled back to before the submission row: judge the whole bundle again, to
            # list every refusal (the rare path; the write stopped at the first).
            stored = (
                judge.stored
                if attempt
                else await bundle_judge.stored_versions(session, collection.id, objects)
            )
            return Outcome(
                await _refuse(
                    session,
                    actor,
                    collection,
                    submission_id,
                    objects,
                    fmt,
                    content_hash,
                    judge=Judge(terms, stored),
                )
            )
    else:
        # Another submission wrote the same ids between each look and write: rare enough
        # that the sender's retry is the answer.
        raise UnavailableError(
            "other submissions were storing the same objects at the same time: send the "
            "bundle again"
        )
    if written and to_store:
        # New store rows met open requests' identifiers, in this transaction.
        await matching.on_new_objects(session, written)
    elif written:
        # The global desk's triage page hears that its queue grew (counts only).
        await triage.publish_counts(
            session, await triage.queue_counts(session), submission_id=str(submission_id)
        )
    await _record_submission(
        session,
        actor,
        collection,
        submission_id,
        content_hash,
        fmt,
        len(objects),
        stored=len(written),
    )
    return Outcome(submission)


async def _submission(
    session: AsyncSession,
    actor: Actor,
    collection: DataCollection,
    submission_id: uuid.UUID,
    fmt: str,
    *,
    total: int,
    failures: list[dict[str, Any]],
) -> DataSubmission:
    values = {
        "id": submission_id,
        "collection_id": collection.id,
        "agency_id": actor.agency_id,
        "principal_id": actor.principal_id,
        "format": fmt,
        "status": "complete",
        "total_count": total,
        "success_count": total - len(failures),
        "failure_count": len(failures),
        "pending_count": 0,
        "failures": failures,
    }
    row = await session.execute(insert(_submissions).values(values).returning(_submissions))
    return DataSubmission(**row.mappings().one())


async def _refuse(
    session: AsyncSession,
    actor: Actor,
    collection: DataCollection,
    submission_id: uuid.UUID,
    objects: Sequence[dict[str, Any]],
    fmt: str,
    content_hash: str,
    *,
    judge: Judge | None = None,
    volume: str | None = None,
) -> DataSubmission:
    """The refused submission's status: each object with its reason (every object with
    ``volume``'s, when the bundle is over the daily volume), the others as not stored."""
    candidates = await asyncio.to_thread(bundle_rows.prepare, objects, with_identifiers=False)
    if volume is not None:
        failures = dict.fromkeys(range(len(candidates)), volume)
    else:
        assert judge is not None
        failures = bundle_judge.refusals(judge, candidates)
    listed = [
        {
            "id": row.label,
            **({"version": row.version_text} if _short(row.version_text) else {}),
            "message": failures.get(index, REFUSED),
        }
        for index, row in enumerate(candidates)
    ]
    submission = await _submission(
        session, actor, collection, submission_id, fmt, total=len(candidates), failures=listed
    )
    await _record_submission(
        session,
        actor,
        collection,
        submission_id,
        content_hash,
        fmt,
        len(candidates),
        refused=len(failures),
    )
    return submission


async def _record_submission(
    session: AsyncSession,
    actor: Actor,
    collection: DataCollection,
    submission_id: uuid.UUID,
    content_hash: str,
    fmt: str,
    objects: int,
    **counts: int,
) -> None:
    """The submission's audit entry: "data.refused" when ``refused`` is counted, else
    "data.submitted" (counts and the body's hash, no content)."""
    await audit.record(
        session,
        actor,
        "data.refused" if "refused" in counts else "data.submitted",
        object_type=OBJECT_TYPE,
        object_id=str(submission_id),
        countries=collection.audience or [],
        content_hash=content_hash,
        details={"collection": str(collection.id), "format": fmt, "objects": objects, **counts},
    )


def _short(value: str | None) -> bool:
    return value is not None and len(value) <= 40
