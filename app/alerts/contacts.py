"""Contact methods: the ways a person is alerted (e-mail, Web Push, their country's gateway),
managed by the person and by whoever manages them (app/identity/policy.py's
MANAGE_CONTACT_METHODS, decided on the principal), each used only once verified.

Verification: adding a method (or asking again) sends it a test message through the outbox
(``contact.verify``) carrying a short code, which the person sends back. The code is never
stored, not even in the message: it is an HMAC of the method's id and the time the test was
asked for, under a key derived from the service secret, and the courier derives it again when
it sends (:func:`verification_code`). Asking again gives a new code and voids the old one.

Audit entries name the method's id and kind, never its address (personal data, in an
append-only trail).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.alerts.contact_schemas import (
    ContactMethodCreate,
    ContactMethodCreated,
    ContactMethodList,
    ContactMethodOut,
)
from app.core.errors import ConflictError, InvalidInputError, NotFoundError, RateLimitedError
from app.core.service_secret import ServiceSecret
from app.directory import principals
from app.identity import policy
from app.identity.auth import Actor
from app.models import Agency, Principal
from app.models.contact import ContactKind, ContactMethod
from app.models.outbox import Route
from app.outbound import signatures
from app.outbound.http import OutboundHttp
from app.outbox.enqueue import NewMessage, enqueue

OBJECT_TYPE = "contact_method"
VERIFY_EVENT = "contact.verify"
PURPOSE = "contact-verify"
# What a gateway's signing secret is sealed for (ServiceSecret.seal).
GATEWAY_SEALED = "gateway-secret"
# A person has a phone or two, a mailbox, a few browsers: more is a mistake or abuse.
MAX_PER_PRINCIPAL = 20
# How long a test message's code works, and how soon another may be asked for (each is a
# message to an address: asking in a loop must not make relay247 a mail cannon).
CODE_LIFETIME = timedelta(hours=24)
RESEND_AFTER = timedelta(seconds=60)
_CODE_LENGTH = 8  # base32: 40 bits, beyond guessing through the API
# What people type for the base32 letters they misread.
_READ_AS = str.maketrans({"0": "O", "1": "I", "8": "B"})

_ROUTES = {
    ContactKind.EMAIL: Route.EMAIL,
    ContactKind.WEB_PUSH: Route.WEB_PUSH,
    ContactKind.GATEWAY: Route.GATEWAY,
}


def route_of(kind: ContactKind) -> Route:
    return _ROUTES[kind]


async def sendable(
    session: AsyncSession, ids: set[uuid.UUID], kind: ContactKind
) -> Sequence[ContactMethod]:
    """The methods of ``kind`` among ``ids`` that a courier may send to: those not disabled,
    verified or not (a verification's own test message goes to one that is not yet; the
    fan-out writes alerts for verified ones only)."""
    rows = await session.scalars(
        select(ContactMethod).where(
            ContactMethod.id.in_(ids),
            ContactMethod.kind == kind,
            ContactMethod.disabled_at.is_(None),
        )
    )
    return rows.all()


def verification_code(secret: ServiceSecret, method_id: uuid.UUID, sent_at: datetime) -> str:
    """The code of the test message asked for at ``sent_at``: ``XXXX-XXXX``."""
    stamp = round(sent_at.timestamp() * 1_000_000).to_bytes(8, "big", signed=True)
    mac = hmac.new(secret.derive(PURPOSE), method_id.bytes + stamp, hashlib.sha256).digest()
    letters = base64.b32encode(mac).decode()[:_CODE_LENGTH]
    return f"{letters[:4]}-{letters[4:]}"


def _normalized(code: str) -> str:
    return code.upper().replace("-", "").replace(" ", "").translate(_READ_AS)


def view(method: ContactMethod) -> ContactMethodOut:
    return ContactMethodOut(
        id=method.id,
        principal_id=method.principal_id,
        kind=method.kind,
        label=method.label,
        address=method.address,
        verified=method.verified_at is not None,
        verified_at=method.verified_at,
        verification_sent_at=method.verification_sent_at,
        created_at=method.created_at,
    )


async def _managed(
    session: AsyncSession, actor: Actor | None, principal_id: uuid.UUID, *, lock: bool = False
) -> tuple[Principal, Agency]:
    """The principal whose methods the actor manages: 404 if it may not see it, 403 if it
    sees it but may not manage them. ``actor`` None: an operator at the command line."""
    principal, agency = await principals.load(session, actor, principal_id, lock=lock)
    if actor is not None:
        policy.require(actor, policy.Action.MANAGE_CONTACT_METHODS, principal)
    return principal, agency


async def _method(
    session: AsyncSession, principal_id: uuid.UUID, method_id: uuid.UUID, *, lock: bool = False
) -> ContactMethod:
    query = select(ContactMethod).where(
        ContactMethod.id == method_id, ContactMethod.principal_id == principal_id
    )
    method = await session.scalar(query.with_for_update() if lock else query)
    if method is None:
        raise NotFoundError(f"no contact method {method_id} of principal {principal_id}")
    return method


async def _audit(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    method: ContactMethod,
    agency: Agency,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(method.id),
        countries=(agency.owner_country,),
        details={"principal_id": str(method.principal_id), "kind": method.kind.value},
    )


async def _send_test(session: AsyncSession, method: ContactMethod) -> None:
    """Ask for a new test message: a new code (the old one no longer works), sent after
    commit by the method's courier."""
    method.verification_sent_at = await session.scalar(select(func.clock_timestamp()))
    method.verification_hash = None
    await session.flush()
    await enqueue(
        session,
        NewMessage(
            route=route_of(method.kind),
            destination_id=method.id,
            event_type=VERIFY_EVENT,
            payload={"contact_method": {"id": str(method.id), "kind": method.kind.value}},
            principal_id=method.principal_id,
        ),
    )


async def list_methods(
    session: AsyncSession, actor: Actor | None, principal_id: uuid.UUID
) -> ContactMethodList:
    await _managed(session, actor, principal_id)
    rows = await session.scalars(
        select(ContactMethod)
        .where(ContactMethod.principal_id == principal_id, ContactMethod.disabled_at.is_(None))
        .order_by(ContactMethod.created_at, ContactMethod.id)
    )
    return ContactMethodList(items=[view(method) for method in rows])


async def add(
    session: AsyncSession,
    actor: Actor | None,
    principal_id: uuid.UUID,
    draft: ContactMethodCreate,
    *,
    secret: ServiceSecret,
    outbound: OutboundHttp,
) -> ContactMethodCreated:
    """Add a method, unverified, and send it its test message. A URL (a push service's, a
    gateway's) must be one relay247 may reach (app/outbound/http.py); a gateway gets a new
    signing secret, shown this once and kept sealed."""
    if draft.kind is not ContactKind.EMAIL:
        refused = outbound.refusal(draft.address)
        if refused is not None:
            raise InvalidInputError(refused, field="address")
    gateway_secret = None
    if draft.kind is ContactKind.GATEWAY:
        shown = signatures.new_hmac_secret()
        gateway_secret = (shown, secret.seal(GATEWAY_SEALED, shown.encode()))
    # The principal's row lock orders concurrent additions, so the count holds.
    principal, agency = await _managed(session, actor, principal_id, lock=True)
    if principal.disabled_at is not None:
        raise ConflictError(f"principal {principal.id} is disabled: nobody would be alerted")
    count = await session.scalar(
        select(func.count()).where(ContactMethod.principal_id == principal.id)
    )
    if (count or 0) >= MAX_PER_PRINCIPAL:
        raise ConflictError(
            f"principal {principal.id} has {MAX_PER_PRINCIPAL} contact methods already: "
            "remove one first"
        )
    method = ContactMethod(
        principal_id=principal.id,
        kind=draft.kind,
        label=draft.label,
        address=draft.address,
        keys=draft.keys.model_dump() if draft.keys is not None else None,
        secret=gateway_secret[1] if gateway_secret else None,
    )
    session.add(method)
    await session.flush()
    await _send_test(session, method)
    await session.refresh(method)
    await _audit(session, actor, "contact_method.created", method, agency)
    return ContactMethodCreated(
        **view(method).model_dump(), secret=gateway_secret[0] if gateway_secret else None
    )


async def remove(
    session: AsyncSession, actor: Actor | None, principal_id: uuid.UUID, method_id: uuid.UUID
) -> None:
    """Delete it (its address is personal data); its messages not sent yet fail as going
    nowhere."""
    _, agency = await _managed(session, actor, principal_id)
    method = await _method(session, principal_id, method_id, lock=True)
    await _audit(session, actor, "contact_method.removed", method, agency)
    await session.execute(delete(ContactMethod).where(ContactMethod.id == method.id))


async def resend(
    session: AsyncSession, actor: Actor | None, principal_id: uuid.UUID, method_id: uuid.UUID
) -> ContactMethodOut:
    _, agency = await _managed(session, actor, principal_id)
    method = await _method(session, principal_id, method_id, lock=True)
    if method.verified_at is not None:
        raise ConflictError(f"contact method {method.id} is verified already")
    now = await session.scalar(select(func.clock_timestamp()))
    assert now is not None
    sent_at = method.verification_sent_at
    if sent_at is not None and now - sent_at < RESEND_AFTER:
        wait = int((RESEND_AFTER - (now - sent_at)).total_seconds()) + 1
        raise RateLimitedError(
            f"a test message was sent less than {int(RESEND_AFTER.total_seconds())} s ago; "
            f"ask again in {wait} s",
            retry_after=wait,
        )
    await _send_test(session, method)
    await _audit(session, actor, "contact_method.verification_sent", method, agency)
    return view(method)


async def verify(
    session: AsyncSession,
    secret: ServiceSecret,
    actor: Actor | None,
    principal_id: uuid.UUID,
    method_id: uuid.UUID,
    code: str,
) -> ContactMethodOut:
    """Confirm the test message's code: the method is alerted from now on. Idempotent once
    verified."""
    _, agency = await _managed(session, actor, principal_id)
    method = await _method(session, principal_id, method_id, lock=True)
    if method.verified_at is not None:
        return view(method)
    sent_at = method.verification_sent_at
    if sent_at is None:
        raise ConflictError("no test message was sent: ask for one (resend-verification)")
    now = await session.scalar(select(func.clock_timestamp()))
    assert now is not None
    if now - sent_at > CODE_LIFETIME:
        raise ConflictError(
            "the test message's code has expired: ask for another (resend-verification)"
        )
    expected = _normalized(verification_code(secret, method.id, sent_at))
    if not hmac.compare_digest(_normalized(code).encode(), expected.encode()):
        raise InvalidInputError(
            "is not the code of the last test message sent to this contact method",
            field="code",
        )
    method.verified_at = now
    await session.flush()
    await _audit(session, actor, "contact_method.verified", method, agency)
    return view(method)
