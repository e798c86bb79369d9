"""The audit trail: one entry per change and per read of request content, written in the
same transaction as what it records.

Entries are written unsealed: no lock, no extra round trip on the write path. Once the
transaction commits, this instance's sealer is woken (a local signal, see
app/core/database/session.py) and gives them their chain positions and hashes (sealer.py; the
format is chain.py's, the guarantees are in docs/audit-chain.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import check_details
from app.core.database.session import signal_after_commit
from app.identity.auth import Actor
from app.models import AuditEntry, table_of

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


class Entry(NamedTuple):
    """One entry of :func:`record_each`: its object, the content hash and details, and the
    countries the object concerns (the acting principal's own is added)."""

    object_id: str
    content_hash: str | None = None
    details: dict[str, Any] | None = None
    countries: Iterable[str | None] = ()


def _countries(
    actor: Actor | None, countries: Iterable[str | None], *, with_actor_country: bool
) -> list[str]:
    """Who may audit an entry: the countries of its object and (unless left out) the country
    the actor acts for, sorted and each once (the canonical form holds them as stored)."""
    concerned = {country for country in countries if country}
    if with_actor_country and actor is not None and actor.home_country:
        concerned.add(actor.home_country)
    return sorted(concerned)


def _row(
    actor: Actor | None,
    action: str,
    object_type: str,
    entry: Entry,
    *,
    with_actor_country: bool,
) -> dict[str, Any]:
    if entry.details:
        check_details(entry.details)
    return {
        "actor_principal_id": actor.principal_id if actor else None,
        "actor_agency_id": actor.agency_id if actor else None,
        "actor_role": actor.role.value if actor else None,
        "actor_country": actor.country if actor else None,
        "remote_addr": _inet(actor.remote_addr) if actor else None,
        "action": action,
        "object_type": object_type,
        "object_id": entry.object_id,
        "content_hash": entry.content_hash,
        "details": entry.details or {},
        "countries": _countries(actor, entry.countries, with_actor_country=with_actor_country),
    }


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    object_type: str,
    object_id: str,
    countries: Iterable[str | None],
    content_hash: str | None = None,
    details: dict[str, Any] | None = None,
    with_actor_country: bool = True,
) -> None:
    """``actor`` is None for what the service does by itself (escalations, purges).
    ``countries``: those the object concerns (a request's two, an agency's own; none for
    what belongs to the network): who may audit the entry besides network-wide auditors,
    and the actor's own country's, unless ``with_actor_country`` is False (an entry that
    names what the actor was not told: app/identity/refusals.py)."""
    await record_each(
        session,
        actor,
        action,
        object_type=object_type,
        entries=[Entry(object_id, content_hash, details, countries)],
        with_actor_country=with_actor_country,
    )


async def record_each(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    object_type: str,
    entries: Sequence[Entry],
    with_actor_country: bool = True,
) -> None:
    """One entry per :class:`Entry`, in a single statement."""
    if not entries:
        return
    signal_after_commit(session, SEAL_SIGNAL)
    rows = [
        _row(actor, action, object_type, entry, with_actor_country=with_actor_country)
        for entry in entries
    ]
    if len(rows) == 1:
        await session.execute(insert(_audit_entries).values(rows[0]))
    else:
        await session.execute(insert(_audit_entries), rows)
