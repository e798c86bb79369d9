"""A report's manifest: what the service signs (with the audit trail's Ed25519 key,
app/audit/keys.py) so that a recipient can check a report offline, with the files and the
published public keys only.

The manifest is a JSON object: ``v``, ``type``, ``report_id``, ``scope``, ``kind``,
``period_start``, ``period_end``, ``generated_at``, ``pdf_sha256``, ``csv_sha256``,
``key_id`` and ``signature``, the base64 Ed25519 signature of the RFC 8785 bytes of every
other member. It is stored and served as those RFC 8785 bytes, signature included."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit.keys import PublishedKey, SigningKey
from app.core.canonical import jcs

FORMAT_VERSION = 1
MANIFEST_TYPE = "relay247.report"
_MEMBERS = frozenset({
    "v", "type", "report_id", "scope", "kind", "period_start", "period_end", "generated_at",
    "pdf_sha256", "csv_sha256", "key_id", "signature",
})  # fmt: skip


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign(key: SigningKey, members: dict[str, Any]) -> bytes:
    """The signed manifest's bytes: ``members`` (all but v, type, key_id and the signature),
    signed by ``key``."""
    unsigned = {"v": FORMAT_VERSION, "type": MANIFEST_TYPE, **members, "key_id": key.key_id}
    signature = base64.b64encode(key.sign(jcs(unsigned))).decode()
    return jcs({**unsigned, "signature": signature})


class ReportFault(ValueError):
    """Why a report does not verify, for a person."""


@dataclass(frozen=True, slots=True)
class Verified:
    report_id: str
    scope: str
    kind: str
    period_start: str
    period_end: str
    key_id: str


def _manifest(data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    # Not UTF-8, not JSON, nested too deep, or a number too long to convert.
    except (ValueError, RecursionError):
        raise ReportFault("the manifest is not JSON") from None
    if not isinstance(manifest, dict) or set(manifest) != _MEMBERS:
        raise ReportFault("the manifest is not a relay247 report manifest (members differ)")
    if manifest["v"] != FORMAT_VERSION or manifest["type"] != MANIFEST_TYPE:
        raise ReportFault(
            f"the manifest is of an unknown kind: {manifest['type']!r} v{manifest['v']!r}"
        )
    if not all(isinstance(manifest[name], str) for name in _MEMBERS - {"v"}):
        raise ReportFault("the manifest's members must be strings")
    return manifest


def verify(
    pdf: bytes, csv: bytes, manifest_bytes: bytes, keys: dict[str, PublishedKey]
) -> Verified:
    """The report's facts if the manifest is signed by one of ``keys`` (valid when it was
    generated) and the PDF and CSV are the files it names; else ReportFault saying which
    part is wrong."""
    manifest = _manifest(manifest_bytes)
    key = keys.get(manifest["key_id"])
    if key is None:
        raise ReportFault(f"signed by key {manifest['key_id']}, which is none of the keys given")
    unsigned = {name: value for name, value in manifest.items() if name != "signature"}
    try:
        signature = base64.b64decode(manifest["signature"], validate=True)
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, jcs(unsigned))
    except (InvalidSignature, ValueError, binascii.Error):
        raise ReportFault("the manifest's signature does not verify: it was changed") from None
    try:
        generated_at = datetime.fromisoformat(manifest["generated_at"])
    except ValueError:
        raise ReportFault("the manifest's generated_at is not a time") from None
    if generated_at.tzinfo is None:
        raise ReportFault("the manifest's generated_at has no UTC offset")
    if not key.valid_at(generated_at):
        raise ReportFault(f"key {key.key_id} was not valid at {manifest['generated_at']}")
    if sha256(pdf) != manifest["pdf_sha256"]:
        raise ReportFault("the PDF is not the one the manifest names: its SHA-256 differs")
    if sha256(csv) != manifest["csv_sha256"]:
        raise ReportFault("the CSV is not the one the manifest names: its SHA-256 differs")
    return Verified(
        manifest["report_id"], manifest["scope"], manifest["kind"], manifest["period_start"],
        manifest["period_end"], key.key_id,
    )  # fmt: skip
