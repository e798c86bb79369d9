"""The service's VAPID identity (RFC 8292): the P-256 key a browser's subscription is bound
to (its ``applicationServerKey``), and the signed JWT each push presents to the push service.

The key is derived from the service secret (app/core/service_secret.py), not kept in a file
of its own: every instance that shares the secret has the same key with nothing more to
mount, back up or keep in step, and no second file to race over on first start. It is
exactly as secret as the service secret, whose purpose-bound derivation keeps it apart from
the acknowledge links' and the webhook secrets' keys. Rotating the service secret changes the
key: every browser must then subscribe again (a push service refuses a JWT signed by another
key than the subscription's, 403), which the dashboard does when it sees the key change.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from datetime import timedelta
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app.core.service_secret import ServiceSecret

_PURPOSE = "vapid-p256"
# The order of the P-256 group: a private key is an integer in [1, n - 1].
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# RFC 8292 §2: a JWT must not be valid for more than 24 hours. Twelve leaves room for a
# clock of the push service that runs ahead.
JWT_LIFETIME = timedelta(hours=12)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def audience(endpoint: str) -> str:
    """The JWT's ``aud``: the origin of the push service's endpoint (RFC 8292 §2)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class Vapid:
    """Derived on first use (the service secret's file is read once per process)."""

    def __init__(self, secret: ServiceSecret) -> None:
        self._secret = secret

    @functools.cached_property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        # 64 derived bytes reduced modulo n - 1: the bias of the reduction is 2^-256, nil.
        seed = self._secret.derive(f"{_PURPOSE}:0") + self._secret.derive(f"{_PURPOSE}:1")
        scalar = int.from_bytes(seed, "big") % (_N - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())

    @functools.cached_property
    def application_server_key(self) -> str:
        """The public key as PushManager.subscribe() takes it: the uncompressed point (65
        bytes), base64url without padding."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def authorization(self, endpoint: str, *, subject: str, now: float | None = None) -> str:
        """The ``Authorization`` header of a push to ``endpoint`` (RFC 8292 §3): ``vapid
        t=<ES256 JWT>,k=<public key>``, without a space after the comma, as pywebpush and
        py_vapid send it (what push services are most used to). A fresh JWT per push: signing
        costs well under a millisecond, and a cache would have to track each origin's expiry."""
        issued = time.time() if now is None else now
        claims = {
            "aud": audience(endpoint),
            "exp": int(issued + JWT_LIFETIME.total_seconds()),
            "sub": subject,
        }
        header = {"typ": "JWT", "alg": "ES256"}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        der = self.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # JWS (RFC 7518 §3.4): the signature is R and S as 32 bytes each, not DER.
        signature = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return f"vapid t={signing_input}.{signature},k={self.application_server_key}"
