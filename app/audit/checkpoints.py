"""Signed checkpoints of the audit chain: "the entry at position n has hash h", signed with
the service's Ed25519 key, kept in the database *and* in a file outside it.

The chain alone cannot show a superuser who rewrote the table and recomputed every hash after
the change, or who cut its tail off: the result is a valid chain. A checkpoint signed before
the rewrite, kept where the superuser cannot reach it (the file, an auditor's copy), names a
hash the rewritten chain no longer has at that position, or a position it no longer reaches.

The key, its publication and its rotation are keys.py's.
The signed bytes are the RFC 8785 form of :meth:`Checkpoint.signed_document` (versioned,
  typed); the file's line is that document plus the signature (docs/audit-chain.md).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.chain import utc_timestamp
from app.audit.keys import KeyHolder, SigningKey
from app.core.canonical import jcs
from app.core.database import Database
from app.core.supervisor import Heartbeat

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Names what the signature is about, so that a signature over a checkpoint can never pass for
# one over anything else the service signs with the same key (receipts).
CHECKPOINT_TYPE = "relay247.audit.checkpoint"
# One checkpoint signer at a time across instances: "R247CKPT".
CHECKPOINT_LOCK = 0x5232_3437_434B_5054
LOCK_TIMEOUT = "10s"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: int
    hash: str  # the chain hash at that position, lowercase hex
    signed_at: datetime
    key_id: str
    signature: bytes
    v: int = FORMAT_VERSION

    def signed_document(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "type": CHECKPOINT_TYPE,
            "position": self.position,
            "hash": self.hash,
            "signed_at": utc_timestamp(self.signed_at),
            "key_id": self.key_id,
        }

    def line(self) -> str:
        """The checkpoint as one JSON line (the file's format): the signed document and its
        signature in base64."""
        document = self.signed_document()
        document["signature"] = base64.b64encode(self.signature).decode()
        return jcs(document).decode()

    @classmethod
    def parse(cls, line: str) -> Checkpoint:
        """A line of a checkpoint file; ValueError saying what is wrong with it."""
        try:
            document = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg})") from None
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        if document.get("type") != CHECKPOINT_TYPE or document.get("v") != FORMAT_VERSION:
            raise ValueError(f"not a version {FORMAT_VERSION} {CHECKPOINT_TYPE}")
        expected = {"v", "type", "position", "hash", "signed_at", "key_id", "signature"}
        if set(document) != expected:
            raise ValueError(f"members must be exactly {sorted(expected)}")
        position, chain_hash, key_id = document["position"], document["hash"], document["key_id"]
        if not isinstance(position, int) or isinstance(position, bool) or position < 1:
            raise ValueError("position is not a positive integer")
        if not all(isinstance(value, str) for value in (chain_hash, key_id)):
            raise ValueError("hash and key_id must be strings")
        try:
            signed_at = datetime.fromisoformat(document["signed_at"])
            signature = base64.b64decode(document["signature"], validate=True)
        except (TypeError, ValueError, binascii.Error):
            raise ValueError("signed_at or signature is malformed") from None
        if signed_at.tzinfo is None:
            raise ValueError("signed_at has no time zone")
        return cls(position, chain_hash, signed_at, key_id, signature)

    def signed_bytes(self) -> bytes:
        return jcs(self.signed_document())

    def verifies_under(self, public_key: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                self.signature, self.signed_bytes()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


def sign(key: SigningKey, *, position: int, chain_hash: str, signed_at: datetime) -> Checkpoint:
    unsigned = Checkpoint(position, chain_hash, signed_at, key.key_id, b"")
    return Checkpoint(
        position, chain_hash, signed_at, key.key_id, key.sign(unsigned.signed_bytes())
    )


_SET_LOCK_TIMEOUT = text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")
# The head, the last checkpoint's position and the database clock, in one round trip.
_HEAD = text(
    "SELECT (SELECT clock_timestamp()) AS now, head.chain_position, head.chain_hash, "
    "       (SELECT max(chain_position) FROM audit_checkpoints) AS last_checkpoint "
    "FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
    "  SELECT chain_position, chain_hash FROM audit_entries "
    "  WHERE chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1"
    ") AS head ON true"
)
_INSERT = text(
    "INSERT INTO audit_checkpoints (v, chain_position, chain_hash, signed_at, key_id, signature) "
    "VALUES (:v, :position, :hash, :signed_at, :key_id, :signature)"
)


async def take(
    connection: AsyncConnection, keys: KeyHolder, *, only_if_moved: bool, wait: bool
) -> Checkpoint | None:
    """Sign the chain's head and store the checkpoint, in the caller's transaction. None when
    nothing is sealed, when ``only_if_moved`` and the head has a checkpoint already, or when
    not ``wait``ing and another instance holds the lock (it is signing right now)."""
    await connection.execute(_SET_LOCK_TIMEOUT)
    if wait:
        await connection.execute(_LOCK, {"key": CHECKPOINT_LOCK})
    elif not (await connection.execute(_TRY_LOCK, {"key": CHECKPOINT_LOCK})).scalar_one():
        return None
    row = (await connection.execute(_HEAD)).one()
    if row.chain_position is None:
        return None
    moved = row.last_checkpoint is None or row.chain_position > row.last_checkpoint
    if only_if_moved and not moved:
        return None
    key = await keys.for_signing(connection)
    checkpoint = sign(
        key, position=row.chain_position, chain_hash=row.chain_hash, signed_at=row.now
    )
    await connection.execute(
        _INSERT,
        {
            "v": checkpoint.v,
            "position": checkpoint.position,
            "hash": checkpoint.hash,
            "signed_at": checkpoint.signed_at,
            "key_id": checkpoint.key_id,
            "signature": checkpoint.signature,
        },
    )
    return checkpoint


def append_line(path: Path, checkpoint: Checkpoint) -> None:
    """Append the checkpoint to the file outside the database and flush it to disk. Blocking:
    call it in a thread from the event loop. One write of one line in append mode: lines of
    two processes sharing the file never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (checkpoint.line() + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Checkpointer:
    """Supervised loop: every interval, if the head moved, one instance signs a checkpoint,
    stores it and appends it to its file."""

    def __init__(
        self,
        database: Database,
        *,
        keys: KeyHolder,
        checkpoint_file: Path,
        interval: float,
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
    ) -> None:
        self._database = database
        self._keys = keys
        self._checkpoint_file = checkpoint_file
        self._interval = interval
        self._on_checkpoint = on_checkpoint

    def stall_bound(self) -> float:
        return 2 * self._interval + 30

    async def _round(self) -> Checkpoint | None:
        async with self._database.engine.begin() as connection:
            checkpoint = await take(connection, self._keys, only_if_moved=True, wait=False)
        if checkpoint is not None:
            await asyncio.to_thread(append_line, self._checkpoint_file, checkpoint)
            if self._on_checkpoint is not None:
                self._on_checkpoint(checkpoint)
        return checkpoint

    async def run(self, beat: Heartbeat) -> None:
        beat()
        while True:
            # Waits first: an instance that starts and stops at once signs nothing, and the
            # key file is made only by an instance that lives an interval.
            await asyncio.sleep(self._interval)
            await self._round()
            beat()
