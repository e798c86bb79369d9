"""Standard Webhooks v1.0.0 signatures (https://www.standardwebhooks.com): what a receiver
checks with the ``standardwebhooks`` library or its own ten lines.

A message is signed over ``{webhook-id}.{webhook-timestamp}.{body}``: ``v1`` is HMAC-SHA256
with a ``whsec_`` secret (the maintained ``standardwebhooks`` package computes it), ``v1a`` is
Ed25519 with a ``whsk_`` key whose ``whpk_`` public half is all the receiver holds, so a leak
at the receiver lets nobody forge a message. Several keys sign at once (space-separated, as
the specification says) while a rotation overlaps: the receiver accepts either.
"""

from __future__ import annotations

import base64
import binascii
import secrets as random
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks.webhooks import Webhook

HMAC_PREFIX = "whsec_"
PRIVATE_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"

_HMAC_BYTES = 32  # the specification asks for 24 to 64


class SigningKeyError(ValueError):
    """Not a ``whsec_`` secret nor a ``whsk_`` key."""


def new_hmac_secret() -> str:
    return HMAC_PREFIX + base64.b64encode(random.token_bytes(_HMAC_BYTES)).decode()


def new_signing_key() -> tuple[str, str]:
    """A new Ed25519 pair: (``whsk_`` private key, kept sealed; ``whpk_`` public key, given)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    private = PRIVATE_KEY_PREFIX + base64.b64encode(seed).decode()
    return private, public_key_of(private)


def _decode(value: str, prefix: str) -> bytes:
    try:
        return base64.b64decode(value[len(prefix) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningKeyError(f"{prefix} value is not base64") from exc


def _ed25519(key: str) -> Ed25519PrivateKey:
    raw = _decode(key, PRIVATE_KEY_PREFIX)
    # 32 bytes of seed; libsodium-style keys are seed + public key (64).
    if len(raw) not in (32, 64):
        raise SigningKeyError("a whsk_ key is 32 (or 64) bytes")
    return Ed25519PrivateKey.from_private_bytes(raw[:32])


def public_key_of(key: str) -> str:
    raw = _ed25519(key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def _signature(key: str, message_id: str, timestamp: int, body: bytes) -> str:
    if key.startswith(HMAC_PREFIX):
        _decode(key, HMAC_PREFIX)
        return Webhook(key).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)
    if key.startswith(PRIVATE_KEY_PREFIX):
        signed = _ed25519(key).sign(f"{message_id}.{timestamp}.".encode() + body)
        return "v1a," + base64.b64encode(signed).decode()
    raise SigningKeyError("a signing key starts with whsec_ or whsk_")


def signature_headers(
    message_id: str, timestamp: int, body: bytes, keys: Sequence[str]
) -> dict[str, str]:
    """The three headers of a signed message, one signature per key in ``keys``."""
    if not keys:
        raise SigningKeyError("a message is signed with at least one key")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(_signature(key, message_id, timestamp, body) for key in keys),
    }
