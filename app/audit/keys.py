"""The service's Ed25519 signing key for the audit trail (checkpoints, receipts) and the
published public keys.

- The private key is a file of the instance (RELAY247_AUDIT_SIGNING_KEY_FILE, made on first
  use, mode 0600); it never enters the database and is never logged.
- Public keys are published in ``audit_signing_keys`` with their validity; a key's id is the
  SHA-256 of its raw public key, so an id pins its key. An instance publishes its key the
  first time it signs with it.
- ``relay247 audit rotate-key`` starts a new key and retires the others at one instant;
  what was signed before stays valid under its key. Signers hold :data:`KEY_LOCK` shared for
  their transaction and rotation takes it exclusively, so nothing is signed with a key in the
  same instant it is retired (a signature is valid in ``[valid_from, retired_at)``).
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.chain import utc_timestamp
from app.audit.schemas import AuditPublicKeyList, AuditPublicKeyOut
from app.core.database import Database
from app.core.errors import UnavailableError

log = logging.getLogger(__name__)

ALGORITHM = "Ed25519"
# Signing with the current key (shared) against rotating it (exclusive): "R247KEYS".
KEY_LOCK = 0x5232_3437_4B45_5953
LOCK_TIMEOUT = "10s"


class SigningKeyError(RuntimeError):
    """The key file cannot be used: unreadable, not an Ed25519 key, or a retired key."""


class KeyRetiredError(SigningKeyError):
    pass


def cannot_sign(what: str, exc: SigningKeyError) -> UnavailableError:
    """The 503 for a signature the operator must mend (a retired or unreadable key file), not
    the caller: logged once per call, without the key. ``what``: "receipts", "exports"."""
    log.error("%s cannot be signed: %s", what, type(exc).__name__)
    return UnavailableError(
        f"{what} cannot be signed now: this instance's signing key is retired or "
        "unreadable; an operator must install the current key file"
    )


def key_id_of(public_key: bytes) -> str:
    """A key's id: the lowercase hex SHA-256 of its 32 raw public key bytes."""
    return hashlib.sha256(public_key).hexdigest()


@dataclass(frozen=True, slots=True)
class SigningKey:
    private: Ed25519PrivateKey
    public_key: bytes  # raw, 32 bytes
    key_id: str

    @classmethod
    def of(cls, private: Ed25519PrivateKey) -> SigningKey:
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(private, public, key_id_of(public))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.of(Ed25519PrivateKey.generate())

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

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


_SET_LOCK_TIMEOUT = text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)")
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
# Publishes the key if it is new, and says when it was retired if it was, in one round trip.
_PUBLISH = text(
    "WITH published AS ("
    "  INSERT INTO audit_signing_keys (key_id, algorithm, public_key) "
    "  VALUES (:key_id, :algorithm, :public_key) ON CONFLICT (key_id) DO NOTHING"
    ") "
    "SELECT retired_at FROM audit_signing_keys WHERE key_id = :key_id"
)


async def _publish(db: AsyncConnection | AsyncSession, key: SigningKey) -> None:
    """Publish the key if it is new (valid from now); refuse to sign with a retired one. A
    statement's snapshot does not show its own CTE's insert: a new key reads as no row."""
    params = {"key_id": key.key_id, "algorithm": ALGORITHM, "public_key": key.public_key}
    retired_at = (await db.execute(_PUBLISH, params)).scalar_one_or_none()
    if retired_at is not None:
        raise KeyRetiredError(
            f"signing key {key.key_id} was retired at {utc_timestamp(retired_at)}: its file "
            "must hold the current key (`relay247 audit rotate-key` wrote it)"
        )


class KeyHolder:
    """This process's signing key, read from its file once and again after a rotation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: SigningKey | None = None
        self._reading = asyncio.Lock()

    async def _load(self) -> SigningKey:
        async with self._reading:
            if self._key is None:
                self._key = await asyncio.to_thread(load_or_create_key, self.path)
            return self._key

    async def for_signing(self, db: AsyncConnection | AsyncSession) -> SigningKey:
        """The key to sign with in ``db``'s transaction: published, not retired, and not
        retired before that transaction ends (the shared :data:`KEY_LOCK`). After a rotation
        the file is read again: on the machine where it ran, it holds the new key; elsewhere
        this raises KeyRetiredError until the file is replaced."""
        await db.execute(_SET_LOCK_TIMEOUT)
        await db.execute(_LOCK_SHARED, {"key": KEY_LOCK})
        for attempt in (1, 2):
            key = await self._load()
            try:
                await _publish(db, key)
            except KeyRetiredError:
                self._key = None
                if attempt == 2:
                    raise
            else:
                return key
        raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Rotation:
    new_key: SigningKey
    retired: list[str]  # ids of the keys retired


# clock_timestamp(), not now(): taken once the lock is held, after every signature made with
# the old key, whose signing times are thus all before it.
_ROTATE = text(
    "WITH at AS (SELECT clock_timestamp() AS t), "
    "published AS ("
    "  INSERT INTO audit_signing_keys (key_id, algorithm, public_key, valid_from) "
    "  SELECT :key_id, :algorithm, :public_key, t FROM at"
    ") "
    "UPDATE audit_signing_keys SET retired_at = (SELECT t FROM at) "
    "WHERE retired_at IS NULL AND key_id <> :key_id RETURNING key_id"
)


async def rotate_key(database: Database, path: Path) -> Rotation:
    """A new key in ``path`` and published, valid from now; every other key retired at the
    same instant. The new file replaces the old one only once the database has committed: a
    failure leaves the old key in place and in use. The old private key is gone from
    ``path`` afterwards; its public key stays published, so what it signed stays verifiable."""
    key = SigningKey.generate()
    temporary = await asyncio.to_thread(_write_private, path, key)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(_SET_LOCK_TIMEOUT)
            await connection.execute(_LOCK, {"key": KEY_LOCK})
            params = {"key_id": key.key_id, "algorithm": ALGORITHM, "public_key": key.public_key}
            retired = [str(key_id) for key_id in await connection.scalars(_ROTATE, params)]
        await asyncio.to_thread(os.replace, temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(temporary.unlink)
    log.info("audit signing key %s started; retired %s", key.key_id, retired or "none")
    return Rotation(key, retired)


_PUBLISHED = text(
    "SELECT key_id, algorithm, public_key, valid_from, retired_at FROM audit_signing_keys "
    "ORDER BY valid_from, key_id"
)


@dataclass(frozen=True, slots=True)
class PublishedKey:
    key_id: str
    public_key: bytes
    valid_from: datetime
    retired_at: datetime | None

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.retired_at is None or moment < self.retired_at)


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


# --- keys given to an offline verifier -------------------------------------------------------

# A key given as raw bytes says nothing of its validity: any signing time is within it.
_ALWAYS = datetime(1, 1, 1, tzinfo=UTC)


class PublicKeyError(ValueError):
    """A --public-key value that is none of the accepted forms."""


def _raw_key(text: str) -> PublishedKey:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PublicKeyError("not base64") from None
    if len(raw) != 32:
        raise PublicKeyError(f"{len(raw)} bytes, not the 32 of an Ed25519 public key")
    return PublishedKey(key_id_of(raw), raw, _ALWAYS, None)


def _published(document: Any) -> list[PublishedKey]:
    items = document.get("items") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise PublicKeyError("JSON without an items list (GET /v1/audit/public-keys gives one)")
    keys = []
    for item in items:
        try:
            raw = base64.b64decode(item["public_key"], validate=True)
            valid_from = datetime.fromisoformat(item["valid_from"])
            retired = item.get("retired_at")
            retired_at = datetime.fromisoformat(retired) if retired else None
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise PublicKeyError("a key of the list lacks public_key or valid_from") from None
        # A time without an offset cannot be compared with the signing time (a UTC instant).
        if valid_from.tzinfo is None or (retired_at is not None and retired_at.tzinfo is None):
            raise PublicKeyError("a key's valid_from or retired_at has no UTC offset")
        if key_id_of(raw) != item.get("key_id"):
            raise PublicKeyError(f"key {item.get('key_id')} is not the SHA-256 of its public key")
        keys.append(PublishedKey(key_id_of(raw), raw, valid_from, retired_at))
    return keys


def _read_key_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PublicKeyError(f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PublicKeyError("a file that is not UTF-8 text") from None


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, a NUL: not a path, then
        return False


def parse_public_keys(values: Iterable[str]) -> dict[str, PublishedKey]:
    """Each value: base64 of the 32 raw bytes, a file holding that, or the JSON of
    GET /v1/audit/public-keys (inline or in a file). Raises PublicKeyError naming the value."""
    keys: dict[str, PublishedKey] = {}
    for value in values:
        text = value.strip()
        try:
            if not text.startswith(("{", "[")) and _is_file(text):
                text = _read_key_file(Path(text))
            if text.startswith(("{", "[")):
                try:
                    document = json.loads(text)
                # Nested too deep, or a number too long to convert: not a keys document.
                except (ValueError, RecursionError):
                    raise PublicKeyError("not JSON") from None
                found = _published(document)
            else:
                found = [_raw_key(text)]
        except PublicKeyError as exc:
            raise PublicKeyError(f"--public-key {value[:80]}: {exc}") from None
        keys.update((key.key_id, key) for key in found)
    return keys
