"""The service's own secret: 32 random bytes in a file of the instance, from which each use
derives its key (HKDF-SHA256, one ``purpose`` per use): the one-time acknowledge links of
alerts are MACed with one, the webhook signing secrets kept in the database are encrypted
with another. Every instance of a deployment needs the same file (a mounted secret, like the
audit signing key); it never enters the database and is never logged."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

_SIZE = 32
# A sealed value: version, nonce, then AES-256-GCM's ciphertext and tag.
_SEALED_VERSION = b"\x01"
_NONCE = 12


class ServiceSecretError(RuntimeError):
    """The file cannot be used (unreadable, or not 32 bytes)."""


def _create(path: Path) -> bytes:
    """A new secret in ``path``: written whole to a file of its own (mode 0600 from its
    creation), then linked into place, so two processes creating it at once end with one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(_SIZE)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(value)
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(temporary, path)
    except FileExistsError:
        return _read(path)
    finally:
        temporary.unlink()
    log.info("service secret created in %s", path)
    return value


def _read(path: Path) -> bytes:
    value = path.read_bytes()
    if len(value) != _SIZE:
        raise ServiceSecretError(f"{path} must hold exactly {_SIZE} bytes")
    if path.stat().st_mode & 0o077:
        log.warning("service secret file %s is readable by others: chmod 600 it", path)
    return value


class ServiceSecret:
    """Read (or made) on first use. Blocking file I/O happens once per process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._value: bytes | None = None

    def _secret(self) -> bytes:
        if self._value is None:
            try:
                self._value = _read(self.path)
            except FileNotFoundError:
                self._value = _create(self.path)
        return self._value

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose; the same on every instance sharing the file."""
        return HKDF(
            algorithm=hashes.SHA256(), length=_SIZE, salt=None, info=purpose.encode()
        ).derive(self._secret())

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        """``plaintext`` encrypted for keeping (in the database): only an instance holding
        the file opens it, and only for the same ``purpose``."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.derive(purpose)).encrypt(nonce, plaintext, purpose.encode())
        return _SEALED_VERSION + nonce + sealed

    def open(self, purpose: str, sealed: bytes) -> bytes:
        """What ``seal`` sealed; ServiceSecretError if it was altered, sealed for another
        purpose, or with another file's secret (a deployment whose instances differ)."""
        if sealed[:1] != _SEALED_VERSION or len(sealed) < 1 + _NONCE + 16:
            raise ServiceSecretError("not a value sealed by this service")
        nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
        try:
            return AESGCM(self.derive(purpose)).decrypt(nonce, body, purpose.encode())
        except InvalidTag as exc:
            raise ServiceSecretError(
                "a sealed value does not open with this service secret"
            ) from exc

    def __repr__(self) -> str:  # never the secret
        return f"ServiceSecret(path={str(self.path)!r})"
