"""The hash chain's canonical form, byte for byte (docs/audit-chain.md says the same in prose).

An entry's canonical bytes are the RFC 8785 (JSON Canonicalization Scheme) serialisation of
one JSON object holding every column of the entry (``v`` names this format). Its chain hash,
from format 2 on, is ``SHA-256(previous hash || SHA-256(canonical bytes))``: the chain links
each entry's *digest*, so an export filtered to one country can stand in for the entries it
leaves out with their digests alone and still be checked against the signed checkpoints
without showing them. Format 1 (entries written before migration 0011, which name no
countries) linked the canonical bytes themselves: ``SHA-256(previous hash || canonical
bytes)``; those entries keep it. The first entry's previous hash is :data:`GENESIS`, 32 zero
bytes. Hashes are stored and shown as lowercase hex.

The object is built from what Postgres gives back, never from what the writer passed in, so
the sealer, ``relay247 audit verify`` and an auditor reading an export compute the same bytes:
:data:`CHAIN_COLUMNS` has Postgres render the values whose text form is its own (UUIDs, INET,
JSONB as text, which is then parsed: JSONB reorders keys and RFC 8785 sorts them again), and
:func:`utc_timestamp` writes every time in one fixed UTC form with microseconds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.canonical import SAFE_INTEGER, jcs, stdlib_gives_jcs

FORMAT_VERSION = 2
LEGACY_FORMAT = 1  # entries that name no countries (written before migration 0011)
GENESIS = bytes(32)

# The members of an entry's canonical form (format 1; format 2 adds "countries"), in the order
# an export's CSV gives them columns.
ENTRY_MEMBERS = (
    "v",
    "position",
    "id",
    "occurred_at",
    "sealed_at",
    "actor_principal_id",
    "actor_agency_id",
    "actor_role",
    "actor_country",
    "remote_addr",
    "action",
    "object_type",
    "object_id",
    "content_hash",
    "details",
)

# The columns of an entry as the chain reads them, in one SELECT list (sealer and verifier).
# abbrev() writes an INET as Postgres does, without "/32" or "/128" for a single address:
# Python's own text of an IPv6 address differs between versions (IPv4-mapped ones).
CHAIN_COLUMNS = (
    "id, occurred_at, actor_principal_id::text AS actor_principal_id, "
    "actor_agency_id::text AS actor_agency_id, actor_role, actor_country, "
    "abbrev(remote_addr) AS remote_addr, action, object_type, object_id, content_hash, "
    "details::text AS details, countries::text[] AS countries, chain_position, chain_hash, "
    "sealed_at"
)


def utc_timestamp(moment: datetime) -> str:
    """``2026-11-23T03:04:05.000006Z``: UTC, always six digits of microseconds (Postgres keeps
    microseconds, so the text is the same after a round trip through the database)."""
    # isoformat() ends in "+00:00" once in UTC; it pads the year to four digits, which
    # strftime("%Y") does not do on every platform.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One audit entry as the chain sees it (a row of :data:`CHAIN_COLUMNS`)."""

    id: int
    occurred_at: datetime
    actor_principal_id: str | None
    actor_agency_id: str | None
    actor_role: str | None
    actor_country: str | None
    remote_addr: str | None
    action: str
    object_type: str
    object_id: str
    content_hash: str | None
    details: str  # JSONB as Postgres writes it; parsed for the canonical form
    countries: tuple[str, ...] | None  # None: a format 1 entry
    chain_position: int | None
    chain_hash: str | None
    sealed_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> ChainEntry:
        """From a row of :data:`CHAIN_COLUMNS` (asyncpg Record or SQLAlchemy Row)."""
        mapping = row._mapping if hasattr(row, "_mapping") else row
        values = {name: mapping[name] for name in cls.__slots__}
        if values["countries"] is not None:
            values["countries"] = tuple(values["countries"])
        return cls(**values)

    @property
    def format(self) -> int:
        return LEGACY_FORMAT if self.countries is None else FORMAT_VERSION

    def sealed_as(self, position: int, sealed_at: datetime) -> ChainEntry:
        return ChainEntry(
            **{
                **{name: getattr(self, name) for name in self.__slots__},
                "chain_position": position,
                "sealed_at": sealed_at,
                "chain_hash": None,
            }
        )


def canonical_document(entry: ChainEntry) -> dict[str, Any]:
    if entry.chain_position is None or entry.sealed_at is None:
        raise ValueError(f"entry {entry.id} has no chain position: it is not sealed")
    document: dict[str, Any] = {
        "v": entry.format,
        "position": entry.chain_position,
        "id": entry.id,
        "occurred_at": utc_timestamp(entry.occurred_at),
        "sealed_at": utc_timestamp(entry.sealed_at),
        "actor_principal_id": entry.actor_principal_id,
        "actor_agency_id": entry.actor_agency_id,
        "actor_role": entry.actor_role,
        "actor_country": entry.actor_country,
        "remote_addr": entry.remote_addr,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "content_hash": entry.content_hash,
        "details": json.loads(entry.details),
    }
    if entry.countries is not None:
        document["countries"] = list(entry.countries)
    return document


def in_fast_subset(document: dict[str, Any]) -> bool:
    """Whether an entry's canonical document (with any further members holding strings or
    null: an export's ``type`` and ``hash``) is in the subset :func:`jcs` writes with the
    stdlib. Every member but details is an ASCII name holding a string, null, a list of
    strings or a positive integer: only details, and the integers' range, need a look."""
    return (
        document["id"] <= SAFE_INTEGER
        and document["position"] <= SAFE_INTEGER
        and stdlib_gives_jcs(document["details"])
    )


def canonical_bytes(entry: ChainEntry) -> bytes:
    document = canonical_document(entry)
    return jcs(document, checked=in_fast_subset(document))


def entry_digest(entry: ChainEntry) -> bytes:
    """What the chain links of a format 2 entry, and what an export shows of one it leaves
    out: SHA-256 of its canonical bytes."""
    return hashlib.sha256(canonical_bytes(entry)).digest()


def linked_hash(previous: bytes, digest: bytes) -> bytes:
    """The chain hash of the format 2 entry whose digest is ``digest``."""
    return hashlib.sha256(previous + digest).digest()


def next_hash(previous: bytes, entry: ChainEntry) -> bytes:
    """The chain hash of ``entry`` after the entry whose hash is ``previous`` (raw bytes)."""
    if entry.countries is None:
        return hashlib.sha256(previous + canonical_bytes(entry)).digest()
    return linked_hash(previous, entry_digest(entry))


def check_details(details: dict[str, Any]) -> None:
    """Refuse, at write time, details the canonical form cannot carry (an integer beyond
    ±2**53, a float that is not finite): written, such an entry could never be sealed and
    would stop the chain behind it. Raises ValueError."""
    jcs(details)
