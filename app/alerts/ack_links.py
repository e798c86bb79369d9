"""One-time acknowledge links: what an alert carries (the e-mail's link, the push's
Acknowledge action) so that the person it woke can acknowledge the request without signing in.

A link is stateless until used: ``base64url(message id + MAC)``, the MAC an HMAC-SHA256 (cut
to 16 bytes) of the outbox message's id under a key derived from the service secret. Nothing
is stored when it is made; the message it names says which request and which person it is
bound to, and when it was made (its lifetime runs from then). Used, it leaves an ``ack_links``
row keyed by the token's hash (the primary key makes it single-use, concurrent uses included),
in the transaction of the acknowledgement and its audit entry. A refusal (used, expired,
opened in the session of another person) is audited too; a token whose MAC fails names
nothing and nobody, and is answered 404 without an entry (anyone can make such noise).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.database import Database
from app.core.errors import ConflictError, DomainError, ForbiddenError, GoneError, NotFoundError
from app.core.service_secret import ServiceSecret
from app.core.settings import OutboxSettings
from app.directory import principals
from app.identity.auth import Actor
from app.models import CooperationRequest, OutboxMessage
from app.models.contact import AckLink
from app.requests import access, actions
from app.requests.schemas import AckOut

PURPOSE = "ack-link"
_MAC_SIZE = 16
_TOKEN_BYTES = 16 + _MAC_SIZE
# base64url of 32 bytes without padding.
TOKEN_LENGTH = 43
USED = "ack_link.used"
REFUSED = "ack_link.refused"


def _mac(secret: ServiceSecret, message_id: uuid.UUID) -> bytes:
    key = secret.derive(PURPOSE)
    return hmac.new(key, message_id.bytes, hashlib.sha256).digest()[:_MAC_SIZE]


def token(secret: ServiceSecret, message_id: uuid.UUID) -> str:
    """The link's token for the alert ``message_id``: the same each time it is asked for (a
    retry of the message carries the same link)."""
    raw = message_id.bytes + _mac(secret, message_id)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def url(settings: OutboxSettings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/ack/{token}"


def message_of(secret: ServiceSecret, presented: str) -> uuid.UUID | None:
    """The message id a well-formed token with a good MAC names, else None."""
    if len(presented) != TOKEN_LENGTH or not presented.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(presented + "=")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES:
        return None
    message_id = uuid.UUID(bytes=raw[:16])
    if not hmac.compare_digest(raw[16:], _mac(secret, message_id)):
        return None
    return message_id


def _hash(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


class Refusal(enum.StrEnum):
    INVALID = "invalid"
    OTHER_PERSON = "other_person"
    USED = "used"
    EXPIRED = "expired"


_ERRORS: dict[Refusal, type[DomainError]] = {
    Refusal.INVALID: NotFoundError,
    Refusal.OTHER_PERSON: ForbiddenError,
    Refusal.USED: ConflictError,
    Refusal.EXPIRED: GoneError,
}
_WORDS = {
    Refusal.INVALID: "this acknowledge link is not valid",
    Refusal.OTHER_PERSON: "this acknowledge link was sent to another person than the one "
    "signed in on this browser: sign out, or acknowledge from your own dashboard",
    Refusal.USED: "this acknowledge link has been used already: a link works once",
    Refusal.EXPIRED: "this acknowledge link has expired: acknowledge from the dashboard",
}


def refused(refusal: Refusal) -> DomainError:
    """The refusal as the API answers it (404, 403, 409, 410), with ``reason`` naming it."""
    return _ERRORS[refusal](_WORDS[refusal], reason=refusal.value)


def refusal_of(error: DomainError) -> Refusal | None:
    """The refusal an error raised by this module stands for, if it is one."""
    reason = error.extensions.get("reason")
    return Refusal(reason) if reason in {r.value for r in Refusal} else None


@dataclass(frozen=True, slots=True)
class Link:
    """What a valid token names, and whether it may still be used."""

    message_id: uuid.UUID
    request_id: uuid.UUID
    person: Actor
    expires_at: datetime
    refusal: Refusal | None
    request: CooperationRequest


def _actor_for(
    message_id: uuid.UUID, principal_id: uuid.UUID, row: Any, remote_addr: str | None
) -> Actor:
    """The person the link was sent to, acting by it. An ack link is no token: ``token_id``
    names the alert message it came with (nothing revokes it but its use and its lifetime)."""
    principal, agency = row
    return Actor(
        principal_id=principal_id,
        token_id=message_id,
        agency_id=agency.id,
        country=agency.country_code,
        role=principal.role,
        name=principal.name,
        agency_kind=agency.kind,
        remote_addr=remote_addr,
    )


async def _find(
    session: AsyncSession,
    secret: ServiceSecret,
    presented: str,
    *,
    lifetime: timedelta,
    signed_in: Actor | None,
    remote_addr: str | None,
) -> Link:
    """What the token names and why it may not be used now, if it may not: raises
    the INVALID refusal for a token that names no alert of ours."""
    message_id = message_of(secret, presented)
    message = None
    if message_id is not None:
        message = (
            await session.execute(
                select(
                    OutboxMessage.request_id, OutboxMessage.principal_id, OutboxMessage.created_at
                ).where(OutboxMessage.id == message_id)
            )
        ).one_or_none()
    if message is None or message.request_id is None or message.principal_id is None:
        raise refused(Refusal.INVALID)
    assert message_id is not None
    request = await session.get(CooperationRequest, message.request_id)
    if request is None:
        raise refused(Refusal.INVALID)
    found = await principals.load(session, None, message.principal_id)
    if found[0].disabled_at is not None:
        # A disabled person acts no more, by token or by link.
        raise refused(Refusal.INVALID)
    person = _actor_for(message_id, message.principal_id, found, remote_addr)
    expires_at = message.created_at + lifetime
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    refusal = None
    if signed_in is not None and signed_in.principal_id != person.principal_id:
        refusal = Refusal.OTHER_PERSON
    elif await session.get(AckLink, _hash(presented)) is not None:
        refusal = Refusal.USED
    elif now >= expires_at:
        refusal = Refusal.EXPIRED
    return Link(message_id, request.id, person, expires_at, refusal, request)


async def preview(
    database: Database,
    secret: ServiceSecret,
    presented: str,
    *,
    lifetime: timedelta,
    signed_in: Actor | None,
) -> Link:
    """What the confirmation page shows (a GET): the request and whether the link would
    work. Changes nothing, audits nothing: only a use is an attempt."""
    async with database.transaction() as session:
        return await _find(
            session,
            secret,
            presented,
            lifetime=lifetime,
            signed_in=signed_in,
            remote_addr=None,
        )


async def _audit_refusal(session: AsyncSession, link: Link, by: Actor) -> None:
    assert link.refusal is not None
    await audit.record(
        session,
        by,
        REFUSED,
        object_type=access.OBJECT_TYPE,
        object_id=str(link.request_id),
        countries=access.countries_of(link.request),
        details={
            "reason": link.refusal.value,
            "message_id": str(link.message_id),
            "sent_to": str(link.person.principal_id),
        },
    )


async def use(
    database: Database,
    secret: ServiceSecret,
    presented: str,
    *,
    lifetime: timedelta,
    reopen_window: timedelta,
    signed_in: Actor | None,
    remote_addr: str | None,
) -> AckOut:
    """Acknowledge the request as the person the link was sent to, through the same service
    as POST /v1/requests/{id}/ack, in one transaction with the link's row and its audit
    entry. A refusal is audited (in a transaction of its own, committed) and then raised
    (refused()). An already acknowledged request is no refusal: AckOut says so."""
    async with database.transaction() as session:
        link = await _find(
            session,
            secret,
            presented,
            lifetime=lifetime,
            signed_in=signed_in,
            remote_addr=remote_addr,
        )
        if link.refusal is None:
            # The primary key decides between two concurrent uses: the second waits for the
            # first's commit and then inserts nothing.
            inserted = await session.scalar(
                insert(AckLink)
                .values(
                    token_hash=_hash(presented),
                    request_id=link.request_id,
                    principal_id=link.person.principal_id,
                    message_id=link.message_id,
                    expires_at=link.expires_at,
                    used_at=func.now(),
                )
                .on_conflict_do_nothing()
                .returning(AckLink.token_hash)
            )
            if inserted is not None:
                acked = await actions.acknowledge(
                    session, link.person, link.request_id, reopen_window=reopen_window
                )
                await audit.record(
                    session,
                    link.person,
                    USED,
                    object_type=access.OBJECT_TYPE,
                    object_id=str(link.request_id),
                    countries=access.countries_of(link.request),
                    details={
                        "message_id": str(link.message_id),
                        "already_acknowledged": acked.already_acknowledged,
                    },
                )
                return acked
            link = Link(
                link.message_id,
                link.request_id,
                link.person,
                link.expires_at,
                Refusal.USED,
                link.request,
            )
    async with database.transaction() as session:
        # Who tried: the signed-in person when it was another one, else the link's own.
        by = signed_in if link.refusal is Refusal.OTHER_PERSON and signed_in else link.person
        await _audit_refusal(session, link, by)
    assert link.refusal is not None
    raise refused(link.refusal)
