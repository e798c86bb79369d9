"""Idempotency-Key: a retried POST gets the first answer again, and only one request is made.

The key row is inserted first, in the same transaction as the request it guards. A concurrent
retry's insert waits on that uncommitted row; once the first commits it finds the stored
answer, and if the first rolled back it proceeds as the first itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInputError
from app.models import IdempotencyKey, table_of

_keys = table_of(IdempotencyKey)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


async def claim(
    session: AsyncSession, *, agency_id: uuid.UUID, key: str, fingerprint: str
) -> StoredAnswer | None:
    """Take the key, or return the answer stored under it. None means: go ahead, then store().

    ``fingerprint`` hashes the parsed body, so whitespace and key order don't make a
    'different' body.
    """
    claimed = await session.scalar(
        insert(_keys)
        .values(agency_id=agency_id, key=key, body_hash=fingerprint, status_code=0, response={})
        .on_conflict_do_nothing()
        .returning(_keys.c.key)
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
    return StoredAnswer(status_code=stored.status_code, body=stored.response)


async def store(
    session: AsyncSession, *, agency_id: uuid.UUID, key: str, answer: StoredAnswer
) -> None:
    await session.execute(
        update(_keys)
        .where(_keys.c.agency_id == agency_id, _keys.c.key == key)
        .values(status_code=answer.status_code, response=answer.body)
    )
