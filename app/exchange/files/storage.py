"""Where the bytes of evidence files live, behind one small interface.

The default store keeps them in Postgres, in 1 MiB chunks (table blob_chunks), so the embedded
set-up needs nothing else and a file is written in the same transaction as its row, its audit
entry and its event: a rollback leaves no bytes behind. An object store (S3 and the like)
would implement :class:`BlobStore` and be chosen in :func:`blob_store`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Collection
from typing import Any, Protocol

from sqlalchemy import String, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import Database
from app.models import BlobChunk, table_of

CHUNK_BYTES = 1024 * 1024
# Chunks read per round trip on download: 8 MiB in memory at most, per download.
_READ_BATCH = 8


class BlobStore(Protocol):
    async def put(self, session: AsyncSession, chunks: AsyncIterable[bytes]) -> str:
        """Store the bytes (chunks of at most CHUNK_BYTES) in the session's transaction;
        return the key to read them with."""

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The bytes, in order. Reads in short transactions of its own, so a slow download
        holds no connection between batches."""

    async def delete(self, session: AsyncSession, keys: Collection[str]) -> None:
        """Remove the bytes of these keys, in the session's transaction."""


class PostgresBlobStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def put(self, session: AsyncSession, chunks: AsyncIterable[bytes]) -> str:
        key = uuid.uuid4().hex

        async def records() -> AsyncIterator[tuple[str, int, bytes]]:
            seq = 0
            async for chunk in chunks:
                yield (key, seq, chunk)
                seq += 1

        # COPY, on the session's own connection: the fastest way in, and in its transaction.
        connection = await session.connection()
        raw: Any = (await connection.get_raw_connection()).driver_connection
        if not raw.is_in_transaction():
            # SQLAlchemy begins the transaction with its first statement, and COPY on the
            # driver's connection is none of its: alone, the bytes would commit at once and
            # stay when the upload is refused after them (a revoked token, a closed request).
            await connection.exec_driver_sql("SELECT 1")
        await raw.copy_records_to_table(
            _chunks.name, records=records(), columns=["storage_key", "seq", "data"]
        )
        return key

    async def read(self, key: str) -> AsyncIterator[bytes]:
        after = -1
        while True:
            async with self._database.transaction() as session:
                rows = (
                    await session.execute(
                        select(BlobChunk.seq, BlobChunk.data)
                        .where(BlobChunk.storage_key == key, BlobChunk.seq > after)
                        .order_by(BlobChunk.seq)
                        .limit(_READ_BATCH)
                    )
                ).all()
            if not rows:
                return
            for seq, data in rows:
                yield data
                after = seq

    async def delete(self, session: AsyncSession, keys: Collection[str]) -> None:
        if keys:
            await session.execute(delete(BlobChunk).where(BlobChunk.storage_key.in_(keys)))


_chunks = table_of(BlobChunk)

# Bytes are shared between a file and its re-shared copies: whoever decides that bytes are
# still used (the purge) or starts to use them (a re-share) holds these keys' locks, so the
# two never cross (the purge deleting bytes a new copy points at). Transaction-scoped
# advisory locks in a class of their own, taken in one order so two holders never wait on
# each other in a cycle.
_KEY_LOCK_CLASS = 0x52323437  # "R247"
_LOCK_KEYS = text(
    """
    SELECT pg_advisory_xact_lock(:lock_class, h)
    FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(:keys) AS k ORDER BY h) AS ordered
    """
).bindparams(bindparam("keys", type_=ARRAY(String)), lock_class=_KEY_LOCK_CLASS)


async def lock_keys(session: AsyncSession, keys: Collection[str]) -> None:
    """Hold these storage keys until the session's transaction ends."""
    if keys:
        await session.execute(_LOCK_KEYS, {"keys": sorted(keys)})


def blob_store(database: Database) -> BlobStore:
    """The store of this deployment: Postgres (the only one so far)."""
    return PostgresBlobStore(database)
