"""Signed checkpoints of the audit chain: "the entry at position n has hash h", signed with
the service's Ed25519 key, kept in the database *and* in a file outside it.

The chain alone cannot show a superuser who rewrote the table and recomputed every hash after
the change, or who cut its tail off: the result is a valid chain. A checkpoint signed before
the rewrite, kept where the superuser cannot reach it (the file, an auditor's copy), names a
hash the rewritten chain no longer has at that position, or a position it no longer reaches.

- The private key is a file of the instance (RELAY247_AUDIT_SIGNING_KEY_FILE, made on first
  use, mode 0600); it never enters the database and is never logged.
- Public keys are published in ``audit_signing_keys`` with their validity; a key's id is the
  SHA-256 of its raw public key, so an id pins its key. ``relay247 audit rotate-key`` starts a
  new key and retires the others; checkpoints signed before stay valid under their key.
- The signed bytes are the RFC 8785 form of :meth:`Checkpoint.signed_document` (versioned,
  typed); the file's line is that document plus the signature (docs/audit-chain.md).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.database import Database
from app.schemas.audit import AuditPublicKeyList, AuditPublicKeyOut
from app.services.audit.chain import jcs, utc_timestamp
from app.supervisor import Heartbeat

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Names what the signature is about, so that a signature over a checkpoint can never pass for
# one over anything else the service signs with the same key (receipts, later).
CHECKPOINT_TYPE = "relay247.audit.checkpoint"
ALGORITHM = "Ed25519"
# One signer at a time across instances (and rotation excludes signing): "R247CKPT".
CHECKPOINT_LOCK = 0x5232_3437_434B_5054
LOCK_TIMEOUT = "10s"


class SigningKeyError(RuntimeError):
    """The key file cannot be used: unreadable, not an Ed25519 key, or a retired key."""


class KeyRetiredError(SigningKeyError):
    pass


def key_id_of(public_key: bytes) -> str:
    """A key's id: the lowercase hex SHA-256 of its 32 raw public key bytes."""
    return hashlib.sha256(public_key).hexdigest()


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class SigningKey:
    private: Ed25519PrivateKey
    public_key: bytes  # raw, 32 bytes
    key_id: str

    @classmethod
    def of(cls, private: Ed25519PrivateKey) -> SigningKey:
        public = _raw_public(private)
        return cls(private, public, key_id_of(public))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.of(Ed25519PrivateKey.generate())

    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:  # never the private key, should one be printed or logged
        return f"SigningKey(key_id={self.key_id!r})"


def _write_private(path: Path, key: SigningKey) -> Path:
    """The key in a new file next to ``path`` (mode 0600 from its creation, so it is never
    readable by others, not even for a moment), flushed to disk; returns that file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.pem())
        file.flush()
        os.fsync(file.fileno())
    return temporary


def _read_private(path: Path) -> SigningKey:
    data = path.read_bytes()
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # from None: nothing of the file's content travels on in the exception.
        raise SigningKeyError(f"{path} holds no unencrypted PEM private key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a private key that is not Ed25519")
    if path.stat().st_mode & 0o077:
        log.warning("audit signing key file %s is readable by others: chmod 600 it", path)
    return SigningKey.of(private)


def load_or_create_key(path: Path) -> SigningKey:
    """The key in ``path``, made there first if the file is missing. Blocking (file I/O): call
    it in a thread from the event loop. Two processes creating it at once end with one key:
    the file appears whole, by a hard link that fails if another process linked first."""
    try:
        return _read_private(path)
    except FileNotFoundError:
        pass
    key = SigningKey.generate()
    temporary = _write_private(path, key)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return _read_private(path)
    finally:
        temporary.unlink()
    log.info("audit signing key %s created in %s", key.key_id, path)
    return key


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
        position, chain_hash, signed_at, key.key_id, key.private.sign(unsigned.signed_bytes())
    )


_SET_LOCK_TIMEOUT = text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")
_PUBLISH = text(
    "INSERT INTO audit_signing_keys (key_id, algorithm, public_key) "
    "VALUES (:key_id, :algorithm, :public_key) ON CONFLICT (key_id) DO NOTHING"
)
_RETIRED_AT = text("SELECT retired_at FROM audit_signing_keys WHERE key_id = :key_id")
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


async def _publish(connection: AsyncConnection, key: SigningKey) -> None:
    """Publish the key if it is new (valid from now); refuse to sign with a retired one."""
    await connection.execute(
        _PUBLISH, {"key_id": key.key_id, "algorithm": ALGORITHM, "public_key": key.public_key}
    )
    retired_at = (await connection.execute(_RETIRED_AT, {"key_id": key.key_id})).scalar_one()
    if retired_at is not None:
        raise KeyRetiredError(
            f"signing key {key.key_id} was retired at {utc_timestamp(retired_at)}: its file "
            "must hold the current key (`relay247 audit rotate-key` wrote it)"
        )


async def take(
    connection: AsyncConnection, key: SigningKey, *, only_if_moved: bool, wait: bool
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
    await _publish(connection, key)
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


@dataclass(frozen=True, slots=True)
class Rotation:
    new_key: SigningKey
    retired: list[str]  # ids of the keys retired


_RETIRE = text(
    "UPDATE audit_signing_keys SET retired_at = now() "
    "WHERE retired_at IS NULL AND key_id <> :key_id RETURNING key_id"
)


async def rotate_key(database: Database, path: Path) -> Rotation:
    """A new key in ``path`` and published, valid from now; every other key retired at the
    same instant. Under the checkpoint lock, so no checkpoint is signed across the switch.
    The new file replaces the old one only once the database has committed: a failure leaves
    the old key in place and in use. The old private key is gone from ``path`` afterwards;
    its public key stays published, so its checkpoints stay verifiable."""
    key = SigningKey.generate()
    temporary = await asyncio.to_thread(_write_private, path, key)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(_SET_LOCK_TIMEOUT)
            await connection.execute(_LOCK, {"key": CHECKPOINT_LOCK})
            await connection.execute(
                _PUBLISH,
                {"key_id": key.key_id, "algorithm": ALGORITHM, "public_key": key.public_key},
            )
            retired = (await connection.execute(_RETIRE, {"key_id": key.key_id})).scalars()
            retired_ids = [str(key_id) for key_id in retired]
        await asyncio.to_thread(os.replace, temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(temporary.unlink)
    log.info("audit signing key %s started; retired %s", key.key_id, retired_ids or "none")
    return Rotation(key, retired_ids)


class Checkpointer:
    """Supervised loop: every interval, if the head moved, one instance signs a checkpoint,
    stores it and appends it to its file."""

    def __init__(
        self,
        database: Database,
        *,
        key_file: Path,
        checkpoint_file: Path,
        interval: float,
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
    ) -> None:
        self._database = database
        self._key_file = key_file
        self._checkpoint_file = checkpoint_file
        self._interval = interval
        self._on_checkpoint = on_checkpoint
        self._key: SigningKey | None = None

    def stall_bound(self) -> float:
        return 2 * self._interval + 30

    async def _round(self) -> Checkpoint | None:
        for attempt in (1, 2):
            if self._key is None:
                self._key = await asyncio.to_thread(load_or_create_key, self._key_file)
            try:
                async with self._database.engine.begin() as connection:
                    checkpoint = await take(connection, self._key, only_if_moved=True, wait=False)
                break
            except KeyRetiredError:
                # Rotated since it was read: read the file again, which holds the new key when
                # the rotation ran on this machine; else the loop fails, saying so, until the
                # file is replaced.
                self._key = None
                if attempt == 2:
                    raise
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


_PUBLISHED = text(
    "SELECT key_id, algorithm, public_key, valid_from, retired_at FROM audit_signing_keys "
    "ORDER BY valid_from, key_id"
)


async def published_keys(session: AsyncSession) -> AuditPublicKeyList:
    rows = (await session.execute(_PUBLISHED)).all()
    return AuditPublicKeyList(
        items=[
            AuditPublicKeyOut(
                key_id=row.key_id,
                algorithm=row.algorithm,
                public_key=base64.b64encode(row.public_key).decode(),
                valid_from=row.valid_from,
                retired_at=row.retired_at,
            )
            for row in rows
        ]
    )
