"""The audit trail: one entry per change and per read of request content, written in the
same transaction as what it records.

Entries are written unsealed: no lock, no extra round trip on the write path. Once the
transaction commits, this instance's sealer is woken (a local signal, see
app/database/session.py) and gives them their chain positions and hashes (sealer.py; the
format is chain.py's, the guarantees are in docs/audit-chain.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.session import signal_after_commit
from app.models import AuditEntry, table_of
from app.services.audit.chain import check_details
from app.services.auth import Actor

# The local signal that wakes the sealer after a transaction that wrote entries commits.
SEAL_SIGNAL = "audit.seal"

_audit_entries = table_of(AuditEntry)  # Core inserts: no ORM bookkeeping for append-only rows


def _inet(address: str | None) -> str | None:
    """The client's address as the INET column takes it, or None when it is not an IP address
    (a unix socket, or whatever a trusted proxy forwarded): the entry is written either way."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(int(ip))  # INET has no zone index
    return str(ip)


def _entry(
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: str,
    content_hash: str | None,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    if details:
        check_details(details)
    return {
        "actor_principal_id": actor.principal_id if actor else None,
        "actor_agency_id": actor.agency_id if actor else None,
        "actor_role": actor.role.value if actor else None,
        "actor_country": actor.country if actor else None,
        "remote_addr": _inet(actor.remote_addr) if actor else None,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "content_hash": content_hash,
        "details": details or {},
    }


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    object_type: str,
    object_id: str,
    content_hash: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """``actor`` is None for what the service does by itself (escalations, purges)."""
    signal_after_commit(session, SEAL_SIGNAL)
    await session.execute(
        insert(_audit_entries).values(
            _entry(actor, action, object_type, object_id, content_hash, details)
        )
    )


async def record_many(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    object_type: str,
    objects: Sequence[tuple[str, str | None]],
) -> None:
    """One entry per (object id, content hash), in a single statement."""
    if not objects:
        return
    signal_after_commit(session, SEAL_SIGNAL)
    await session.execute(
        insert(_audit_entries),
        [_entry(actor, action, object_type, oid, chash, None) for oid, chash in objects],
    )


async def record_each(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    object_type: str,
    entries: Sequence[tuple[str, str | None, dict[str, Any] | None]],
) -> None:
    """One entry per (object id, content hash, details), in a single statement."""
    if not entries:
        return
    signal_after_commit(session, SEAL_SIGNAL)
    await session.execute(
        insert(_audit_entries),
        [_entry(actor, action, object_type, *entry) for entry in entries],
    )
