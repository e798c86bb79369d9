"""Idempotency-Key: a retried POST is answered with the request the first one made, and only
one request is made.

The key row is inserted first, in the same transaction as the request it guards. A concurrent
retry's insert waits on that uncommitted row; once the first commits it finds the request's
id, and if the first rolled back it proceeds as the first itself.

The row keeps the request's id and a hash of the body, never the body nor the answer: those
are request content, which must go with the purge, and a copy here would outlive it. A key is
honoured for RELAY247_IDEMPOTENCY_KEY_LIFETIME after its first use (24 hours, as payment APIs
and the IETF Idempotency-Key draft suggest: long enough for any retry loop, short enough that
a case system may reuse its own numbering); an expired key is taken as new, and the purge job
sweeps expired rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Interval

from app.core.errors import InvalidInputError
from app.models import IdempotencyKey, table_of

_keys = table_of(IdempotencyKey)


@dataclass(frozen=True, slots=True)
class FirstAnswer:
    """What the first use of the key made: the request, and the warnings it was told."""

    request_id: uuid.UUID  # or the id of the approval that held it (``held``)
    warnings: list[str]
    held: bool = False


async def claim(
    session: AsyncSession,
    *,
    agency_id: uuid.UUID,
    key: str,
    fingerprint: str,
    lifetime: timedelta,
) -> FirstAnswer | None:
    """Take the key, or return what its first use made. None means: go ahead, then store().

    ``fingerprint`` hashes the parsed body, so whitespace and key order don't make a
    'different' body. A key first used longer than ``lifetime`` ago is taken over as new.
    """
    fresh: dict[str, Any] = {
        "body_hash": fingerprint,
        "request_id": None,
        "warnings": [],
        "created_at": func.now(),
    }
    expired = _keys.c.created_at < func.now() - literal(lifetime, Interval())
    statement = insert(_keys).values(agency_id=agency_id, key=key, **fresh)
    claimed = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[_keys.c.agency_id, _keys.c.key], set_=fresh, where=expired
        ).returning(_keys.c.key)
    )
    if claimed is not None:
        return None
    stored = (
        await session.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.agency_id == agency_id, IdempotencyKey.key == key
            )
        )
    ).scalar_one()
    if stored.body_hash != fingerprint:
        raise InvalidInputError(
            "this Idempotency-Key was already used with a different body: "
            "use a new key for a new request",
            idempotency_key=key,
        )
    # Set in the same transaction as the claim: a committed row always has one.
    made = stored.request_id or stored.approval_id
    assert made is not None
    return FirstAnswer(
        request_id=made, warnings=list(stored.warnings), held=stored.request_id is None
    )


async def store(
    session: AsyncSession, *, agency_id: uuid.UUID, key: str, answer: FirstAnswer
) -> None:
    await session.execute(
        update(_keys)
        .where(_keys.c.agency_id == agency_id, _keys.c.key == key)
        .values(
            {"approval_id" if answer.held else "request_id": answer.request_id}
            | {"warnings": answer.warnings}
        )
    )


async def sweep(session: AsyncSession, *, lifetime: timedelta, limit: int) -> int:
    """Delete up to ``limit`` keys past their lifetime, oldest first; how many went."""
    oldest = (
        select(_keys.c.agency_id, _keys.c.key)
        .where(_keys.c.created_at < func.now() - literal(lifetime, Interval()))
        .order_by(_keys.c.created_at)
        .limit(limit)
        # Another instance's sweep, or a retry taking over an expired key, holds its rows.
        .with_for_update(skip_locked=True)
    )
    deleted = await session.execute(
        delete(_keys)
        .where(tuple_(_keys.c.agency_id, _keys.c.key).in_(oldest))
        .returning(_keys.c.key)
    )
    return len(deleted.all())
