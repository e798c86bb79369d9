"""The purge: at the end of its retention, a request's content is removed for good.

Due: final (closed_at set), ``closed_at + retention_days`` past by the database's clock, not
purged yet, not under a legal hold. For each, in the caller's transaction: the request's
subject, details, identifiers, legal basis and H3 note, its messages' text and notes, its
transitions' reasons, its files' names, notes and bytes, the reasons of share permissions
of its files or into it, and its identifiers and matches with shared data (app/matching)
go; their metadata, their hashes, the transitions themselves and the audit trail stay, so
what was exchanged, when and by whom can still be shown and verified.
Nothing else holds content: the Idempotency-Key rows hold the request's id, not its answer.

Requests are claimed with FOR UPDATE SKIP LOCKED: two purges running at once (two instances,
the loop and `relay247 purge`) each take different requests, and a request being held or
reopened at this moment is either waited for by that change or skipped until the next round.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    delete,
    func,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.exchange.files import storage
from app.exchange.files.storage import BlobStore
from app.models import (
    CooperationRequest,
    EvidenceFile,
    Message,
    RequestIdentifier,
    RequestMatch,
    RequestTransition,
    SharePermission,
)
from app.models.enums import RequestType
from app.realtime import event_log
from app.requests import access, views


@dataclass(frozen=True, slots=True)
class PurgedRequest:
    request_id: uuid.UUID
    type: RequestType
    closed_at: datetime
    retention_days: int
    messages: int
    files: int

    @property
    def retain_until(self) -> datetime:
        return self.closed_at + timedelta(days=self.retention_days)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge did, or with ``dry_run`` what it would have done."""

    requests: list[PurgedRequest]
    blobs_deleted: int  # stored files whose bytes went (a key shared with a kept file stays)
    dry_run: bool

    @property
    def messages(self) -> int:
        return sum(purged.messages for purged in self.requests)

    @property
    def files(self) -> int:
        return sum(purged.files for purged in self.requests)

    def __add__(self, other: PurgeReport) -> PurgeReport:
        return PurgeReport(
            self.requests + other.requests,
            self.blobs_deleted + other.blobs_deleted,
            self.dry_run,
        )


_ONE_DAY = literal_column("interval '1 day'", type_=Interval)


def due() -> ColumnElement[bool]:
    """Requests whose retention has ended, by the database's clock, and nothing keeps."""
    r = CooperationRequest
    return (
        r.closed_at.is_not(None)
        & r.purged_at.is_(None)
        & r.legal_hold_at.is_(None)
        # Implied by the next line (retention is at least a day); lets the partial index
        # ix_requests_purge_due narrow the scan to requests closed more than a day ago.
        & (r.closed_at < func.now() - _ONE_DAY)
        & (r.closed_at + r.retention_days * _ONE_DAY < func.now())
    )


async def _unused_keys(
    session: AsyncSession, keys: set[str], request_ids: list[uuid.UUID], *, lock: bool
) -> set[str]:
    """The keys among ``keys`` that no unpurged file of another request still uses."""
    if not keys:
        return set()
    if lock:
        await storage.lock_keys(session, keys)
    in_use = await session.scalars(
        select(EvidenceFile.storage_key)
        .distinct()
        .where(
            EvidenceFile.storage_key.in_(keys),
            EvidenceFile.purged_at.is_(None),
            EvidenceFile.request_id.not_in(request_ids),
        )
    )
    return keys - set(in_use)


async def purge_due(
    session: AsyncSession, store: BlobStore, *, limit: int, dry_run: bool
) -> PurgeReport:
    """Purge up to ``limit`` due requests, oldest first, in the session's transaction; with
    ``dry_run``, only say which (and lock nothing, write nothing)."""
    r = CooperationRequest
    claim = select(r.id, r.type, r.closed_at, r.retention_days).where(due())
    claim = claim.order_by(r.closed_at, r.id).limit(limit)
    if not dry_run:
        claim = claim.with_for_update(skip_locked=True)
    claimed = (await session.execute(claim)).all()
    if not claimed:
        return PurgeReport([], 0, dry_run)
    ids = [row.id for row in claimed]

    message_counts = await session.execute(
        select(Message.request_id, func.count())
        .where(Message.request_id.in_(ids), Message.purged_at.is_(None))
        .group_by(Message.request_id)
    )
    messages = {request_id: count for request_id, count in message_counts}
    files = (
        await session.execute(
            select(EvidenceFile.request_id, EvidenceFile.storage_key).where(
                EvidenceFile.request_id.in_(ids), EvidenceFile.purged_at.is_(None)
            )
        )
    ).all()
    file_counts = Counter(row.request_id for row in files)
    keys = {row.storage_key for row in files if row.storage_key is not None}
    unused = await _unused_keys(session, keys, ids, lock=not dry_run)
    report = PurgeReport(
        [
            PurgedRequest(
                request_id=row.id,
                type=row.type,
                closed_at=row.closed_at,
                retention_days=row.retention_days,
                messages=messages.get(row.id, 0),
                files=file_counts[row.id],
            )
            for row in claimed
        ],
        blobs_deleted=len(unused),
        dry_run=dry_run,
    )
    if dry_run:
        return report

    purged = list(
        await session.scalars(
            update(r)
            .where(r.id.in_(ids))
            .values(
                subject=None,
                details=None,
                # SQL NULL: None would be stored in the JSONB column as JSON null.
                identifiers=null(),
                legal_basis=None,
                # An H3 note states a restriction in words, which may name the case.
                handling_note=None,
                purged_at=func.now(),
                updated_at=func.now(),
                version=r.version + 1,
            )
            .returning(r),
            execution_options={"synchronize_session": False},
        )
    )
    await session.execute(
        update(Message)
        .where(Message.request_id.in_(ids), Message.purged_at.is_(None))
        .values(text=None, handling_note=None, purged_at=func.now()),
        execution_options={"synchronize_session": False},
    )
    await session.execute(
        update(RequestTransition)
        .where(RequestTransition.request_id.in_(ids), RequestTransition.reason.is_not(None))
        .values(reason=None),
        execution_options={"synchronize_session": False},
    )
    await session.execute(
        update(EvidenceFile)
        .where(EvidenceFile.request_id.in_(ids), EvidenceFile.purged_at.is_(None))
        # The name too: it often names a person.
        .values(storage_key=None, name=None, handling_note=None, purged_at=func.now()),
        execution_options={"synchronize_session": False},
    )
    await session.execute(
        update(SharePermission)
        .where(
            SharePermission.reason.is_not(None),
            SharePermission.request_id.in_(ids)
            | SharePermission.file_id.in_(
                select(EvidenceFile.id).where(EvidenceFile.request_id.in_(ids))
            ),
        )
        .values(reason=None),
        execution_options={"synchronize_session": False},
    )
    await store.delete(session, unused)
    # Matching's copies of the identifiers (app/matching/): request_identifiers, and each
    # match's kind and value, are the request's content too. The matches go whole, not
    # nulled: a match with no identifier says nothing but that one existed, and the audit
    # trail keeps which objects were shown to whom (match.shown).
    await session.execute(delete(RequestIdentifier).where(RequestIdentifier.request_id.in_(ids)))
    await session.execute(delete(RequestMatch).where(RequestMatch.request_id.in_(ids)))

    by_id = {item.request_id: item for item in report.requests}
    await audit.record_each(
        session,
        None,
        "request.purged",
        object_type=access.OBJECT_TYPE,
        entries=[
            audit.Entry(
                str(request.id),
                request.content_hash,
                _audit_details(by_id[request.id]),
                access.countries_of(request),
            )
            for request in purged
        ],
    )
    await event_log.publish_each(
        session,
        "request.updated",
        [
            event_log.Publication(
                channels=access.channels_of(request),
                request_id=request.id,
                data={**views.event_data(request), "purged_at": _iso(request.purged_at)},
            )
            for request in purged
        ],
    )
    return report


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _audit_details(purged: PurgedRequest) -> dict[str, Any]:
    return {
        "messages_purged": purged.messages,
        "files_purged": purged.files,
        "retention_days": purged.retention_days,
        "closed_at": purged.closed_at.isoformat(),
    }
