"""GET /v1/audit/entries: the trail as an auditor pages through it, itself audited.

Pages follow the chain (sealed entries by position) so that paging on from a cursor misses
nothing, then show what is not sealed yet: see :class:`app.audit.schemas.AuditEntryPage`."""

from __future__ import annotations

from sqlalchemy import select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.audit.query import OBJECT_TYPE, AuditFilter, authorize, conditions
from app.audit.schemas import AuditEntryOut, AuditEntryPage
from app.core.pagination import CURSOR_INT_MAX, SequenceCursor
from app.identity.auth import Actor
from app.models import AuditEntry

LISTED = "audit.listed"


def view(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        occurred_at=entry.occurred_at,
        actor_principal_id=entry.actor_principal_id,
        actor_agency_id=entry.actor_agency_id,
        actor_role=entry.actor_role,
        actor_country=entry.actor_country,
        remote_addr=str(entry.remote_addr) if entry.remote_addr is not None else None,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        content_hash=entry.content_hash,
        details=entry.details,
        countries=entry.countries,
        sealed=entry.chain_position is not None,
        chain_position=entry.chain_position,
        chain_hash=entry.chain_hash,
        sealed_at=entry.sealed_at,
    )


async def list_entries(
    session: AsyncSession,
    actor: Actor,
    filters: AuditFilter,
    *,
    cursor: str | None,
    limit: int,
    newest_first: bool = False,
) -> AuditEntryPage:
    filters = authorize(actor, filters)
    if newest_first:
        return await _newest_first(session, actor, filters, cursor=cursor, limit=limit)
    after = SequenceCursor.decode(cursor).last_id if cursor else 0
    wanted = conditions(actor, filters)
    # One statement, so one snapshot: with two, an entry sealed between them would be in
    # neither the sealed page nor the unsealed tail.
    sealed_after = (
        select(AuditEntry)
        .where(AuditEntry.chain_position > after, *wanted)
        .order_by(AuditEntry.chain_position)
        .limit(limit + 1)
    )
    not_sealed = (
        select(AuditEntry)
        .where(AuditEntry.chain_position.is_(None), *wanted)
        .order_by(AuditEntry.id)
        .limit(limit)
    )
    rows = list(
        await session.scalars(
            select(AuditEntry).from_statement(union_all(sealed_after, not_sealed))
        )
    )
    sealed = sorted(
        (entry for entry in rows if entry.chain_position is not None),
        key=lambda entry: entry.chain_position or 0,
    )
    more = len(sealed) > limit
    page = sealed[:limit]
    last = page[-1].chain_position if page else after
    assert last is not None
    unsealed: list[AuditEntry] = []
    if not more:
        unsealed = sorted(
            (entry for entry in rows if entry.chain_position is None), key=lambda e: e.id
        )[: limit - len(page)]
    await _record_listing(session, actor, filters, after, len(page) + len(unsealed))
    return AuditEntryPage(
        items=[view(entry) for entry in [*page, *unsealed]],
        next_cursor=SequenceCursor(last).encode() if more else None,
        resume_cursor=SequenceCursor(last).encode(),
    )


async def _record_listing(
    session: AsyncSession, actor: Actor, filters: AuditFilter, after: int, shown: int
) -> None:
    await audit.record(
        session,
        actor,
        LISTED,
        object_type=OBJECT_TYPE,
        object_id="entries",
        countries=(filters.country,),
        details={**filters.described(), "after": after, "shown": shown},
    )


async def _newest_first(
    session: AsyncSession, actor: Actor, filters: AuditFilter, *, cursor: str | None, limit: int
) -> AuditEntryPage:
    """What an auditor opening the page wants first: the newest. The first page starts with
    what is not sealed yet (newest first), then the chain backwards; a cursor goes on before
    the oldest position shown (entries newer than the first page are the next search's).
    ``resume_cursor`` is the oldest-first one that reads on after the newest sealed entry."""
    wanted = conditions(actor, filters)
    before = SequenceCursor.decode(cursor).last_id if cursor else None
    unsealed: list[AuditEntry] = []
    if before is None:
        unsealed = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.chain_position.is_(None), *wanted)
                .order_by(AuditEntry.id.desc())
                .limit(limit)
            )
        )
    sealed_query = select(AuditEntry).where(AuditEntry.chain_position.is_not(None), *wanted)
    if before is not None:
        sealed_query = sealed_query.where(AuditEntry.chain_position < before)
    room = limit - len(unsealed)
    sealed = list(
        await session.scalars(
            sealed_query.order_by(AuditEntry.chain_position.desc()).limit(room + 1)
        )
    )
    more = len(sealed) > room or (len(unsealed) == limit and before is None)
    page = sealed[:room]
    oldest = page[-1].chain_position if page else before
    newest = await session.scalar(
        select(AuditEntry.chain_position)
        .where(AuditEntry.chain_position.is_not(None))
        .order_by(AuditEntry.chain_position.desc())
        .limit(1)
    )
    await _record_listing(session, actor, filters, before or 0, len(unsealed) + len(page))
    return AuditEntryPage(
        items=[view(entry) for entry in [*unsealed, *page]],
        next_cursor=SequenceCursor(oldest if oldest is not None else CURSOR_INT_MAX).encode()
        if more
        else None,
        resume_cursor=SequenceCursor(newest or 0).encode(),
    )
