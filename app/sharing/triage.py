"""The global desk's triage of partners' submissions: accept, reject or ask for more, per
object or for every undecided object of a submission.

A partner's row is never edited but for the decision written beside it (triage, decided_by,
decided_at, decision_note). Accepting copies the object, as submitted, into the gateway
collection with its provenance (``source_row_id``: the partner, the bundle, who decided and
when are on the source row), its handling code and the partner's retention, and indexes its
identifiers for matching: quarantined data matches nothing, accepted data does.

A decision is final, but for ``request_info``, which waits for the partner and may be
followed by accept or reject. Every decision is audited per object ("data.triaged") and the
desk's pages hear "triage.changed" with the queue's counts, never content. One transaction: the
decision, the copies, their identifiers, the audit entries and the event commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ConflictError, NotFoundError
from app.identity import policy
from app.identity.auth import Actor
from app.matching import on_new_objects
from app.models import Agency, DataCollection, DataSubmission, IndicatorValue, StixObject
from app.models.enums import CollectionKind, ObjectOrigin, Triage
from app.models.shared_data import GATEWAY_COLLECTION_ID
from app.realtime import event_log
from app.realtime.audience import TRIAGE_CHANNEL
from app.sharing.triage_schemas import (
    DecidedObject,
    Decision,
    DecisionIn,
    DecisionOut,
    TriageCounts,
)
from app.stix.identifiers import identifiers_of

# The event on the triage channel when the queue changes (a decision, a quarantined bundle).
QUEUE_CHANGED = "triage.changed"
OBJECT_TYPE = "stix_object"
# A statement carries at most 32,767 parameters (Postgres' wire protocol): a 10,000-object
# bundle's copies go in statements of this many rows (12 parameters each).
_ROWS_PER_INSERT = 1000
_OUTCOME = {
    Decision.ACCEPT: Triage.ACCEPTED,
    Decision.REJECT: Triage.REJECTED,
    Decision.REQUEST_INFO: Triage.INFO_REQUESTED,
}
# From where each decision may be taken: asking again for what was asked already is no news
# to the partner; accepted and rejected are final.
_DECIDABLE_FROM = {
    Decision.ACCEPT: (Triage.QUARANTINED, Triage.INFO_REQUESTED),
    Decision.REJECT: (Triage.QUARANTINED, Triage.INFO_REQUESTED),
    Decision.REQUEST_INFO: (Triage.QUARANTINED,),
}


async def queue_counts(session: AsyncSession) -> TriageCounts:
    """The whole queue: what waits for the desk and what waits for partners."""
    s = StixObject
    quarantined, info_requested = (
        await session.execute(
            select(
                func.count().filter(s.triage == Triage.QUARANTINED),
                func.count().filter(s.triage == Triage.INFO_REQUESTED),
            ).where(s.triage.in_((Triage.QUARANTINED, Triage.INFO_REQUESTED)))
        )
    ).one()
    return TriageCounts(quarantined=quarantined, info_requested=info_requested)


def _refusal(row: StixObject, decision: Decision) -> str | None:
    """Why ``decision`` cannot be taken on ``row`` now, or None."""
    if row.triage is None or row.origin is not ObjectOrigin.SUBMITTED:
        return f"object {row.row_id} is not a partner's submission awaiting triage"
    if row.purged_at is not None:
        return f"object {row.row_id} was purged at the end of its retention"
    if row.triage in _DECIDABLE_FROM[decision]:
        return None
    when = row.decided_at.isoformat() if row.decided_at else "earlier"
    if row.triage is Triage.INFO_REQUESTED:
        return (
            f"object {row.row_id} already waits for the partner's answer (asked {when}): "
            "accept or reject it"
        )
    return f"object {row.row_id} was {row.triage.value} {when}: the decision is final"


async def _partner_country(session: AsyncSession, collection_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(Agency.country_code)
        .join(DataCollection, DataCollection.owner_agency_id == Agency.id)
        .where(DataCollection.id == collection_id)
    )


def _locked_inbox_rows() -> Any:
    return (
        select(StixObject)
        .join(DataCollection, DataCollection.id == StixObject.collection_id)
        .where(DataCollection.kind == CollectionKind.INBOX)
        .order_by(StixObject.row_id)
        .with_for_update(of=StixObject)
    )


async def decide_object(
    session: AsyncSession, actor: Actor, row_id: int, body: DecisionIn
) -> DecisionOut:
    policy.require(actor, policy.Action.TRIAGE_DATA)
    row = await session.scalar(_locked_inbox_rows().where(StixObject.row_id == row_id))
    if row is None:
        raise NotFoundError(f"no partner submission's object {row_id}")
    refusal = _refusal(row, body.decision)
    if refusal is not None:
        raise ConflictError(refusal, triage=row.triage.value if row.triage else None)
    return await _decide(session, actor, [row], body)


async def decide_submission(
    session: AsyncSession, actor: Actor, submission_id: uuid.UUID, body: DecisionIn
) -> DecisionOut:
    """The decision for every object of the submission it may be taken on now (accept and
    reject: those quarantined or waiting for the partner; request_info: those quarantined)."""
    policy.require(actor, policy.Action.TRIAGE_DATA)
    if await session.get(DataSubmission, submission_id) is None:
        raise NotFoundError(f"no submission {submission_id}")
    rows = list(
        await session.scalars(
            _locked_inbox_rows().where(
                StixObject.submission_id == submission_id,
                StixObject.origin == ObjectOrigin.SUBMITTED,
                StixObject.triage.in_(_DECIDABLE_FROM[body.decision]),
                StixObject.purged_at.is_(None),
            )
        )
    )
    if not rows:
        raise ConflictError(
            f"submission {submission_id} has no object left that may be decided "
            f"{body.decision.value}: each is decided already, or it stored none"
        )
    return await _decide(session, actor, rows, body)


async def _decide(
    session: AsyncSession, actor: Actor, rows: Sequence[StixObject], body: DecisionIn
) -> DecisionOut:
    now = (await session.execute(select(func.now()))).scalar_one()
    outcome = _OUTCOME[body.decision]
    for row in rows:
        row.triage = outcome
        row.decided_by = actor.principal_id
        row.decided_at = now
        row.decision_note = body.note or None
    await session.flush()
    copies = await _copy_to_gateway(session, rows) if outcome is Triage.ACCEPTED else {}
    if copies:
        # New store objects: matched against open requests in this transaction.
        await on_new_objects(session, list(copies.values()))
    countries = {
        collection: await _partner_country(session, collection)
        for collection in {row.collection_id for row in rows}
    }
    await audit.record_each(
        session,
        actor,
        "data.triaged",
        object_type=OBJECT_TYPE,
        entries=[
            audit.Entry(
                str(row.row_id),
                row.object_hash,
                {
                    "decision": body.decision.value,
                    "submission_id": str(row.submission_id) if row.submission_id else None,
                    "collection_id": str(row.collection_id),
                    "gateway_row_id": copies.get(row.row_id),
                    "has_note": bool(body.note),
                },
                (countries[row.collection_id],),
            )
            for row in rows
        ],
    )
    counts = await queue_counts(session)
    await publish_counts(session, counts, decided=len(rows), decision=body.decision.value)
    return DecisionOut(
        decision=body.decision,
        decided=[
            DecidedObject(
                row_id=row.row_id,
                stix_id=row.stix_id,
                triage=outcome,
                gateway_row_id=copies.get(row.row_id),
            )
            for row in rows
        ],
        queue=counts,
    )


async def publish_counts(session: AsyncSession, counts: TriageCounts, **what: Any) -> None:
    """Tell the desk's pages the queue changed: counts only, never content (an intake that
    quarantines a bundle may say so the same way)."""
    await event_log.publish(
        session,
        QUEUE_CHANGED,
        channels=[TRIAGE_CHANNEL],
        request_id=None,
        data={
            "quarantined": counts.quarantined,
            "info_requested": counts.info_requested,
            **what,
        },
    )


async def _copy_to_gateway(session: AsyncSession, rows: Sequence[StixObject]) -> dict[int, int]:
    """The accepted objects copied into the gateway with their identifiers: source row id to
    copy's row id. A version the gateway holds already (the same id and version accepted
    from another row: two partners, or a duplicate) is a conflict: nothing is written."""
    values = [
        {
            "collection_id": GATEWAY_COLLECTION_ID,
            "submission_id": row.submission_id,
            "origin": ObjectOrigin.ACCEPTED,
            "source_row_id": row.row_id,
            "stix_id": row.stix_id,
            "type": row.type,
            "spec_version": row.spec_version,
            "version": row.version,
            "object": row.object,
            "object_hash": row.object_hash,
            "handling_code": row.handling_code,
            "purge_after": row.purge_after,
        }
        for row in rows
    ]
    s = StixObject
    copies: dict[int, int] = {}
    for chunk in _chunks(values, _ROWS_PER_INSERT):
        inserted = await session.execute(
            insert(s)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=[s.collection_id, s.stix_id, s.version])
            .returning(s.source_row_id, s.row_id)
        )
        copies.update({source: row_id for source, row_id in inserted.all() if source})
    clashing = [row for row in rows if row.row_id not in copies]
    if clashing:
        named = ", ".join(f"{row.stix_id} ({_iso(row.version)})" for row in clashing[:5])
        raise ConflictError(
            f"the gateway already holds {named}"
            f"{' and others' if len(clashing) > 5 else ''}: the same version accepted from "
            "another submission; reject the duplicate instead",
            row_ids=[row.row_id for row in clashing[:100]],
        )
    identifiers = {
        (kind, value, copies[row.row_id])
        for row in rows
        if row.object is not None
        for kind, value in identifiers_of(row.object)
    }
    rows_of_values = [{"kind": k, "value": v, "object_row_id": r} for k, v, r in identifiers]
    for chunk in _chunks(rows_of_values, _ROWS_PER_INSERT * 4):
        await session.execute(insert(IndicatorValue).values(chunk).on_conflict_do_nothing())
    return copies


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _iso(value: datetime) -> str:
    return value.isoformat()
