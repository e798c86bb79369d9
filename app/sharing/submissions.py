"""Reading triage: the global desk's queue, and submissions with where their objects stand.

A partner reads its own submissions (and, of its objects, the outcome and the note the desk
wrote for it, and the feedback sightings written back); the global desk reads every one. A
member agency that submits shares reads its own submissions too. Nobody else reads any: a
partner never learns another partner's, nor the queue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFoundError
from app.core.pagination import Cursor, SequenceCursor
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, DataCollection, DataSubmission, StixObject
from app.models.enums import Feedback, ObjectOrigin, Triage
from app.sharing import feedback as feedback_service
from app.sharing.triage_schemas import (
    FeedbackOut,
    QueueCounts,
    QueuedObject,
    QueuePage,
    SubmissionOut,
    SubmissionPage,
    SubmittedObject,
    SubmittedObjectPage,
    TriageCounts,
)
from app.sharing.visibility import sees_everything


@dataclass(frozen=True, slots=True)
class QueueFilter:
    partner_agency_id: uuid.UUID | None = None
    submission_id: uuid.UUID | None = None
    type: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.partner_agency_id is not None:
            clauses.append(DataCollection.owner_agency_id == self.partner_agency_id)
        if self.submission_id is not None:
            clauses.append(StixObject.submission_id == self.submission_id)
        if self.type is not None:
            clauses.append(StixObject.type == self.type)
        return clauses


def _age(column: Any) -> Any:
    return cast(func.extract("epoch", func.now() - column), Integer)


async def quarantine(
    session: AsyncSession, actor: Actor, filters: QueueFilter, *, cursor: str | None, limit: int
) -> QueuePage:
    """Objects waiting for the desk, oldest first, with the counts of the whole queue."""
    policy.require(actor, policy.Action.TRIAGE_DATA)
    s, c = StixObject, DataCollection
    waiting = (s.triage == Triage.QUARANTINED, *filters.clauses())
    query = (
        select(s, c.owner_agency_id, Agency.name, _age(s.date_added))
        .join(c, c.id == s.collection_id)
        .join(Agency, Agency.id == c.owner_agency_id)
        .where(*waiting)
    )
    if cursor is not None:
        query = query.where(s.row_id > SequenceCursor.decode(cursor).last_id)
    rows = (await session.execute(query.order_by(s.row_id).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    items = [
        QueuedObject(
            row_id=row.row_id,
            submission_id=row.submission_id,
            partner_agency_id=agency_id,
            partner=name,
            stix_id=row.stix_id,
            type=row.type,
            version=row.version,
            handling_code=row.handling_code,
            triage=Triage.QUARANTINED,
            date_added=row.date_added,
            age_seconds=max(age, 0),
            decision_note=row.decision_note,
        )
        for row, agency_id, name, age in page
    ]
    return QueuePage(
        items=items,
        counts=await _queue_counts(session, filters),
        next_cursor=SequenceCursor(page[-1][0].row_id).encode() if more else None,
    )


async def _queue_counts(session: AsyncSession, filters: QueueFilter) -> QueueCounts:
    s, c = StixObject, DataCollection
    quarantined = s.triage == Triage.QUARANTINED
    counted = (
        await session.execute(
            select(
                func.count().filter(quarantined),
                func.count().filter(s.triage == Triage.INFO_REQUESTED),
                func.count(s.submission_id.distinct()).filter(quarantined),
                func.min(s.date_added).filter(quarantined),
                _age(func.min(s.date_added).filter(quarantined)),
            )
            .join(c, c.id == s.collection_id)
            .where(s.triage.in_((Triage.QUARANTINED, Triage.INFO_REQUESTED)), *filters.clauses())
        )
    ).one()
    return QueueCounts(
        quarantined=counted[0],
        info_requested=counted[1],
        submissions=counted[2],
        oldest_added=counted[3],
        oldest_age_seconds=max(counted[4], 0) if counted[4] is not None else None,
    )


def _submissions_of(actor: Actor) -> ColumnElement[bool]:
    """The global desk reads every submission; whoever submits, its own agency's."""
    if sees_everything(actor):
        return true()
    policy.require(actor, policy.Action.SUBMIT_DATA)
    return DataSubmission.agency_id == actor.agency_id


def _triage_counts() -> Any:
    s = StixObject
    mine = (s.submission_id == DataSubmission.id) & (s.origin == ObjectOrigin.SUBMITTED)
    return [
        select(func.count().filter(s.triage == state)).where(mine).scalar_subquery()
        for state in (Triage.QUARANTINED, Triage.INFO_REQUESTED, Triage.ACCEPTED, Triage.REJECTED)
    ]


def _submission_view(
    submission: DataSubmission, agency: str, counts: Any, fed: int
) -> SubmissionOut:
    return SubmissionOut(
        id=submission.id,
        collection_id=submission.collection_id,
        agency_id=submission.agency_id,
        agency=agency,
        format=submission.format,
        status=submission.status,
        total_count=submission.total_count,
        success_count=submission.success_count,
        failure_count=submission.failure_count,
        failures=list(submission.failures),
        created_at=submission.created_at,
        triage=TriageCounts(
            quarantined=counts[0], info_requested=counts[1], accepted=counts[2], rejected=counts[3]
        ),
        feedback=fed,
    )


def _submission_query(actor: Actor) -> Any:
    d = DataSubmission
    return (
        select(d, Agency.name, *_triage_counts())
        .join(Agency, Agency.id == d.agency_id)
        .where(_submissions_of(actor))
    )


async def list_submissions(
    session: AsyncSession,
    actor: Actor,
    *,
    agency_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> SubmissionPage:
    d = DataSubmission
    query = _submission_query(actor)
    if agency_id is not None:
        query = query.where(d.agency_id == agency_id)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(d.created_at, d.id) < tuple_(after.created_at, after.id))
    rows = (
        await session.execute(query.order_by(d.created_at.desc(), d.id.desc()).limit(limit + 1))
    ).all()
    page, more = rows[:limit], len(rows) > limit
    fed = await feedback_service.counts_by_submission(session, [row[0].id for row in page])
    last = page[-1][0] if page else None
    return SubmissionPage(
        items=[_submission_view(row[0], row[1], row[2:6], fed.get(row[0].id, 0)) for row in page],
        next_cursor=Cursor(last.created_at, last.id).encode() if more and last else None,
    )


async def _visible_submission(session: AsyncSession, actor: Actor, submission_id: uuid.UUID) -> Any:
    row = (
        await session.execute(_submission_query(actor).where(DataSubmission.id == submission_id))
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no submission {submission_id} that you may see")
    return row


async def get_submission(
    session: AsyncSession, actor: Actor, submission_id: uuid.UUID
) -> SubmissionOut:
    row = await _visible_submission(session, actor, submission_id)
    fed = await feedback_service.counts_by_submission(session, [submission_id])
    return _submission_view(row[0], row[1], row[2:6], fed.get(submission_id, 0))


async def submission_objects(
    session: AsyncSession,
    actor: Actor,
    submission_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> SubmittedObjectPage:
    """The submission's stored objects in the order they came, each with its outcome and
    the feedback written back about it (metadata: the content is GET /objects/{row_id})."""
    await _visible_submission(session, actor, submission_id)
    s = StixObject
    query = select(s).where(s.submission_id == submission_id, s.origin == ObjectOrigin.SUBMITTED)
    if cursor is not None:
        query = query.where(s.row_id > SequenceCursor.decode(cursor).last_id)
    rows = list(await session.scalars(query.order_by(s.row_id).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    fed = await feedback_service.of_objects(session, page)
    return SubmittedObjectPage(
        items=[
            SubmittedObject(
                row_id=row.row_id,
                stix_id=row.stix_id,
                type=row.type,
                version=row.version,
                handling_code=row.handling_code,
                triage=row.triage,
                decided_at=row.decided_at,
                decision_note=row.decision_note,
                date_added=row.date_added,
                purged_at=row.purged_at,
                feedback=[
                    FeedbackOut(kind=Feedback(kind), count=count, last_seen=last)
                    for kind, count, last in fed.get(row.stix_id, [])
                ],
            )
            for row in page
        ],
        next_cursor=SequenceCursor(page[-1].row_id).encode() if more else None,
    )
