"""An agency's webhook endpoints: made, changed, rotated and removed by its own people (or
by an operator at the shell, ``actor`` None), each change audited in its own transaction.

Secrets are sealed with the service secret (they must be used to sign, so they cannot be
hashed) and shown once. A rotation keeps the previous secret signing beside the new one for
ROTATION_OVERLAP, so a receiver can switch without refusing a message.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.core.service_secret import ServiceSecret
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, OutboxMessage, Principal, WebhookEndpoint
from app.models.enums import AgencyKind, Role
from app.models.outbox import MessageStatus, Route
from app.outbound import signatures
from app.outbox.fanout import EVERY_DESK
from app.realtime import audience
from app.webhooks import OBJECT_TYPE, SECRET_PURPOSE
from app.webhooks.schemas import (
    EndpointCreate,
    EndpointIssued,
    EndpointOut,
    EndpointPage,
    EndpointPatch,
    Scheme,
    issued,
)

ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Keys:
    """What endpoint management needs of the instance: the service secret that seals
    endpoint secrets, and the outbound rules a URL must pass (OutboundHttp.refusal)."""

    secret: ServiceSecret
    refusal: Callable[[str], str | None]

    def opened(self, sealed: bytes) -> str:
        return self.secret.open(SECRET_PURPOSE, sealed).decode()

    def new(self, scheme: Scheme) -> tuple[bytes, str]:
        """A new secret, sealed for keeping, and what the agency is shown: the whsec_ secret,
        or the whpk_ public key of a whsk_ key it never sees."""
        if scheme is Scheme.V1A:
            private, public = signatures.new_signing_key()
            return self.secret.seal(SECRET_PURPOSE, private.encode()), public
        hmac = signatures.new_hmac_secret()
        return self.secret.seal(SECRET_PURPOSE, hmac.encode()), hmac


def view(endpoint: WebhookEndpoint, keys: Keys) -> EndpointOut:
    signing = keys.opened(endpoint.secret)
    v1a = signing.startswith(signatures.PRIVATE_KEY_PREFIX)
    return EndpointOut(
        id=endpoint.id,
        agency_id=endpoint.agency_id,
        url=endpoint.url,
        description=endpoint.description,
        channels=list(endpoint.channels),
        event_types=list(endpoint.event_types),
        tlp_ceiling=endpoint.tlp_ceiling,
        scheme=Scheme.V1A if v1a else Scheme.V1,
        public_key=signatures.public_key_of(signing) if v1a else None,
        previous_secret_until=endpoint.previous_secret_until,
        enabled=endpoint.disabled_at is None,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since,
        created_at=endpoint.created_at,
        created_by=endpoint.created_by,
    )


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _host_refusal(url: str) -> str | None:
    """What OutboundHttp.refusal leaves to DNS, refused when the URL is given rather than when
    it is used: spaces and control characters, and a host that is no DNS name. A last label of
    digits only is an address in another spelling (``127.1``, ``2130706433``, ``0x7f.1``):
    the connection would refuse it, the agency should hear it now."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "must not contain spaces or control characters"
    host = urlsplit(url).hostname or ""
    if host.startswith("[") or ":" in host:
        return None  # an IPv6 literal: refusal() judged it
    try:
        ascii_host = host.rstrip(".").encode("idna").decode()
    except UnicodeError:
        return "names no valid host"
    labels = ascii_host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return "names no valid host"
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return "names an address in a form relay247 does not take: write it as a.b.c.d"
    return None


def _check_url(keys: Keys, url: str) -> None:
    reason = keys.refusal(url) or _host_refusal(url)
    if reason is not None:
        raise InvalidInputError(reason, field="url")


async def channels_of(session: AsyncSession, agency: Agency) -> list[str]:
    """What an agency's endpoint hears, as its people's sockets do (app/realtime/audience.py):
    the global desk every desk and its own channel; an NCB its country's desk; any other
    agency what concerns it (the requests it sent), and its country's desk too if its
    contact points are the desk. Fixed when the endpoint is made."""
    if agency.kind is AgencyKind.GS:
        return [audience.GLOBAL_DESK, EVERY_DESK]
    channels = [audience.agency_channel(agency.id)]
    desk = agency.kind is AgencyKind.NCB or await session.scalar(
        select(
            select(Principal.id)
            .where(
                Principal.agency_id == agency.id,
                Principal.role == Role.CONTACT_POINT,
                Principal.disabled_at.is_(None),
            )
            .exists()
        )
    )
    if desk:
        channels.append(audience.desk_channel(agency.country_code))
    return channels


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    endpoint: WebhookEndpoint,
    details: dict[str, Any],
) -> None:
    country = await session.scalar(
        select(Agency.owner_country).where(Agency.id == endpoint.agency_id)
    )
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(endpoint.id),
        countries=(country,),
        details={"agency_id": str(endpoint.agency_id), **details},
    )


async def create(
    session: AsyncSession,
    actor: Actor | None,
    draft: EndpointCreate,
    keys: Keys,
    *,
    agency_id: uuid.UUID | None = None,
) -> EndpointIssued:
    """For the actor's own agency (an operator names it)."""
    if actor is not None:
        agency_id = actor.agency_id
        policy.require(actor, policy.Action.MANAGE_WEBHOOKS, policy.Owner(agency_id=agency_id))
    agency = await session.get(Agency, agency_id) if agency_id is not None else None
    if agency is None:
        raise NotFoundError(f"no agency {agency_id}")
    _check_url(keys, draft.url)
    sealed, shown = keys.new(draft.scheme)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        agency_id=agency.id,
        url=draft.url,
        description=draft.description,
        channels=await channels_of(session, agency),
        event_types=list(draft.event_types),
        tlp_ceiling=draft.tlp_ceiling,
        secret=sealed,
        created_by=actor.principal_id if actor is not None else None,
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    await record(
        session,
        actor,
        "webhook_endpoint.created",
        endpoint,
        {
            "url": endpoint.url,
            "scheme": draft.scheme.value,
            "channels": endpoint.channels,
            "event_types": endpoint.event_types,
            "tlp_ceiling": endpoint.tlp_ceiling.value,
        },
    )
    return issued(view(endpoint, keys), shown)


async def find(
    session: AsyncSession, actor: Actor | None, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    """The endpoint, if the actor may manage it; 404 otherwise, as if it did not exist."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if lock:
        query = query.with_for_update()
    endpoint = await session.scalar(query)
    if endpoint is None or (
        actor is not None and not policy.permits(actor, policy.Action.MANAGE_WEBHOOKS, endpoint)
    ):
        raise NotFoundError(f"no webhook endpoint {endpoint_id} of your agency")
    return endpoint


async def get(
    session: AsyncSession, actor: Actor | None, endpoint_id: uuid.UUID, keys: Keys
) -> EndpointOut:
    return view(await find(session, actor, endpoint_id), keys)


async def list_endpoints(
    session: AsyncSession,
    actor: Actor | None,
    keys: Keys,
    *,
    cursor: str | None,
    limit: int,
    agency_id: uuid.UUID | None = None,
) -> EndpointPage:
    """Newest first. Filtered, never refused: a role that manages none lists none."""
    w = WebhookEndpoint
    query = select(w)
    if actor is not None:
        query = query.where(policy.where(actor, policy.Action.MANAGE_WEBHOOKS, w))
    if agency_id is not None:
        query = query.where(w.agency_id == agency_id)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(w.created_at, w.id) < tuple_(after.created_at, after.id))
    rows = list(
        await session.scalars(query.order_by(w.created_at.desc(), w.id.desc()).limit(limit + 1))
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
    return EndpointPage(items=[view(row, keys) for row in page], next_cursor=next_cursor)


async def change(
    session: AsyncSession,
    actor: Actor | None,
    endpoint_id: uuid.UUID,
    patch: EndpointPatch,
    keys: Keys,
) -> EndpointOut:
    endpoint = await find(session, actor, endpoint_id, lock=True)
    changes: dict[str, Any] = {}
    if patch.url is not None and patch.url != endpoint.url:
        _check_url(keys, patch.url)
        endpoint.url = changes["url"] = patch.url
    if patch.description is not None and patch.description != endpoint.description:
        endpoint.description = changes["description"] = patch.description
    if patch.event_types is not None and patch.event_types != list(endpoint.event_types):
        endpoint.event_types = list(patch.event_types)
        changes["event_types"] = list(patch.event_types)
    if patch.tlp_ceiling is not None and patch.tlp_ceiling is not endpoint.tlp_ceiling:
        endpoint.tlp_ceiling = patch.tlp_ceiling
        changes["tlp_ceiling"] = patch.tlp_ceiling.value
    if patch.enabled is not None and patch.enabled != (endpoint.disabled_at is None):
        now = await session.scalar(select(func.now()))
        endpoint.disabled_at = None if patch.enabled else now
        endpoint.disabled_reason = None if patch.enabled else "disabled by its agency"
        # Enabled again: its failures so far are forgiven, the clock starts afresh.
        endpoint.failing_since = None
        changes["enabled"] = patch.enabled
    if changes:
        await session.flush()
        await record(session, actor, "webhook_endpoint.changed", endpoint, changes)
    return view(endpoint, keys)


async def rotate(
    session: AsyncSession,
    actor: Actor | None,
    endpoint_id: uuid.UUID,
    scheme: Scheme | None,
    keys: Keys,
) -> EndpointIssued:
    """A new secret, shown once; the current one signs beside it for ROTATION_OVERLAP (a
    previous overlap still running ends now: only the last two secrets sign)."""
    endpoint = await find(session, actor, endpoint_id, lock=True)
    current = view(endpoint, keys)
    sealed, shown = keys.new(scheme or current.scheme)
    now = await session.scalar(select(func.now()))
    assert now is not None
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret = sealed
    await session.flush()
    rotated = view(endpoint, keys)
    await record(
        session,
        actor,
        "webhook_endpoint.rotated",
        endpoint,
        {
            "scheme": rotated.scheme.value,
            "previous_secret_until": endpoint.previous_secret_until.isoformat(),
        },
    )
    return issued(rotated, shown)


async def delete(session: AsyncSession, actor: Actor | None, endpoint_id: uuid.UUID) -> None:
    """Removed with what it was still to be sent (cancelled); its delivery log goes with it
    from the API, the outbox keeps the rows until they are purged."""
    endpoint = await find(session, actor, endpoint_id, lock=True)
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.destination_id == endpoint.id,
            OutboxMessage.route == Route.WEBHOOK,
            OutboxMessage.status == MessageStatus.PENDING,
        )
        .values(status=MessageStatus.CANCELLED, finished_at=func.now(), leased_until=None)
    )
    await record(session, actor, "webhook_endpoint.deleted", endpoint, {"url": endpoint.url})
    await session.delete(endpoint)
    await session.flush()
