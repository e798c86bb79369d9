"""Retention of shared data: at ``purge_after`` (added + the partner agreement's retention, or
a member share's) a stored object's content goes for good; a legal hold keeps it.

The purge empties ``object`` and sets ``purged_at``; it deletes the object's indicator values
and the matches found through it, since a purged object can no longer say what it held. The
row, its hashes and the audit trail stay, so what was shared, triaged and read can still be
shown and verified ("data.purged": one entry per object, with its content hash). It runs in
the retention job (app/retention/job.py), batch by batch, under the job's lock.

Who holds shared data: the global desk (the custodian of the gateway and of the partners'
inboxes), with the permission it triages under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ConflictError, NotFoundError
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, DataCollection, IndicatorValue, RequestMatch, StixObject
from app.sharing.retention_schemas import ObjectHoldState

OBJECT_TYPE = "stix_object"
# Objects per transaction of the job.
BATCH = 500


@dataclass(frozen=True, slots=True)
class SharedPurgeReport:
    objects: int
    indicator_values: int
    matches: int


def _due() -> object:
    s = StixObject
    return s.purged_at.is_(None) & s.legal_hold_at.is_(None) & (s.purge_after < func.now())


async def purge_due_objects(session: AsyncSession, *, limit: int = BATCH) -> SharedPurgeReport:
    """Purge up to ``limit`` due objects, oldest first, in the caller's transaction. Rows are
    claimed FOR UPDATE SKIP LOCKED: one being triaged or held now waits for the next round."""
    s = StixObject
    claimed = list(
        (
            await session.execute(
                select(s.row_id, s.object_hash, s.collection_id, s.purge_after, s.origin)
                .where(_due())  # type: ignore[arg-type]
                .order_by(s.purge_after, s.row_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    if not claimed:
        return SharedPurgeReport(0, 0, 0)
    ids = [row.row_id for row in claimed]
    values = await session.execute(
        delete(IndicatorValue).where(IndicatorValue.object_row_id.in_(ids))
    )
    matches = await session.execute(delete(RequestMatch).where(RequestMatch.object_row_id.in_(ids)))
    await session.execute(
        update(s)
        .where(s.row_id.in_(ids))
        # SQL NULL: None would be stored in the JSONB column as JSON null.
        .values(object=null(), purged_at=func.now()),
        execution_options={"synchronize_session": False},
    )
    countries = dict(
        (
            await session.execute(
                select(DataCollection.id, Agency.country_code)
                .join(Agency, Agency.id == DataCollection.owner_agency_id)
                .where(DataCollection.id.in_({row.collection_id for row in claimed}))
            )
        ).all()
    )
    await audit.record_each(
        session,
        None,
        "data.purged",
        object_type=OBJECT_TYPE,
        entries=[
            audit.Entry(
                str(row.row_id),
                row.object_hash,
                {
                    "collection_id": str(row.collection_id),
                    "origin": row.origin.value,
                    "purge_after": row.purge_after.isoformat(),
                },
                (countries.get(row.collection_id),),
            )
            for row in claimed
        ],
    )
    return SharedPurgeReport(len(ids), values.rowcount, matches.rowcount)  # type: ignore[attr-defined]


def _state(row: StixObject, *, changed: bool) -> ObjectHoldState:
    return ObjectHoldState(
        row_id=row.row_id,
        legal_hold_at=row.legal_hold_at,
        legal_hold_by=row.legal_hold_by,
        purge_after=row.purge_after,
        purged_at=row.purged_at,
        changed=changed,
    )


async def _held(session: AsyncSession, actor: Actor, row_id: int) -> StixObject:
    policy.require(actor, policy.Action.TRIAGE_DATA)
    row = await session.scalar(
        select(StixObject).where(StixObject.row_id == row_id).with_for_update()
    )
    if row is None:
        raise NotFoundError(f"no shared object {row_id}")
    return row


async def _audit_hold(
    session: AsyncSession, actor: Actor, action: str, row: StixObject, since: datetime | None
) -> None:
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(row.row_id),
        countries=(),
        content_hash=row.object_hash,
        details={
            "collection_id": str(row.collection_id),
            "purge_after": row.purge_after.isoformat(),
            "held_since": since.isoformat() if since else None,
        },
    )


async def set_hold(session: AsyncSession, actor: Actor, row_id: int) -> ObjectHoldState:
    """Keep the object past its ``purge_after`` until the hold is lifted; a hold already set
    is left as it is (``changed: false``); a purged object has nothing left to hold (409)."""
    row = await _held(session, actor, row_id)
    if row.legal_hold_at is not None:
        return _state(row, changed=False)
    if row.purged_at is not None:
        raise ConflictError(
            f"object {row_id} was purged at the end of its retention: there is no content "
            "left to hold",
            purged_at=row.purged_at.isoformat(),
        )
    row.legal_hold_at = (await session.execute(select(func.now()))).scalar_one()
    row.legal_hold_by = actor.principal_id
    await session.flush()
    await _audit_hold(session, actor, "data.legal_hold_set", row, None)
    return _state(row, changed=True)


async def lift_hold(session: AsyncSession, actor: Actor, row_id: int) -> ObjectHoldState:
    """Let retention run again: an object past ``purge_after`` goes at the next round."""
    row = await _held(session, actor, row_id)
    if row.legal_hold_at is None:
        return _state(row, changed=False)
    since = row.legal_hold_at
    row.legal_hold_at = row.legal_hold_by = None
    await session.flush()
    await _audit_hold(session, actor, "data.legal_hold_lifted", row, since)
    return _state(row, changed=True)
