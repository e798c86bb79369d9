"""The courier of Route.WEB_PUSH: an alert to a browser or phone a person subscribed, through
its push service (RFC 8030), encrypted for that subscription (RFC 8291, aes128gcm) and
signed as this service (VAPID, RFC 8292: app/alerts/vapid.py).

The push service's endpoint is a URL the user supplied, so it is reached only through the
SSRF-guarded client (app/outbound/http.py): https only, no private address unless allowed,
no redirect followed. A push service that answers 404 or 410 says the subscription is gone
(the browser unsubscribed, the app was removed): the message fails at once and the contact
method is disabled, audited, in the transaction that records the attempt.

Headers (RFC 8030 §5): ``TTL`` how long the push service keeps it for an offline device;
``Urgency`` high for an emergency (the device wakes for it), normal otherwise; ``Topic`` the
request, so that a repeat of an alert, and its withdrawal, replaces on the push service the
one a device has not fetched yet (an offline phone gets one notification, not twelve).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import http_ece
from pywebpush import WebPusher, WebPushException
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.alerts import ack_links, contacts, push_payloads
from app.alerts.vapid import Vapid
from app.core.service_secret import ServiceSecret
from app.core.settings import OutboxSettings
from app.models import Agency, Principal
from app.models.contact import ContactKind, ContactMethod
from app.models.enums import Priority
from app.models.outbox import Route
from app.outbound.http import OutboundHttp
from app.outbox.couriers import INVALID, MOOT, Attempted, Leased, Outcome
from app.web.security import WEB_PREFIX
from app.webhooks import notices

log = logging.getLogger(__name__)

# What a push service answers for a subscription that no longer exists.
GONE = frozenset({404, 410})
# How long a push service keeps a message for a device that is offline. An alert is kept a
# day (its topic makes a later one replace it, so a phone back online shows the latest); a
# verification code only as long as someone waits for it.
ALERT_TTL = 86_400
VERIFY_TTL = 600
OBJECT_TYPE = "contact_method"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A browser's PushSubscription as its contact method keeps it."""

    endpoint: str
    p256dh: str
    auth: str
    verified: bool = False
    # When its test message was asked for: its code is derived from it, never stored.
    verification_sent_at: datetime | None = None

    def info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


# (secret, contact method id, when its test was asked for) -> the code it carries.


def topic(message: Leased) -> str:
    """RFC 8030 §5.4: at most 32 characters of the URL-safe base64 alphabet. The request's id
    (22), else the message's own."""
    key = message.request_id or message.id
    return base64.urlsafe_b64encode(key.bytes).rstrip(b"=").decode("ascii")


class WebPushCourier:
    route = Route.WEB_PUSH

    def __init__(self, settings: OutboxSettings, secret: ServiceSecret, http: OutboundHttp) -> None:
        self.settings = settings
        self.secret = secret
        self.http = http
        self.vapid = Vapid(secret)
        self.schedule: Sequence[float] = settings.alert_retry_schedule

    async def destinations(
        self, session: AsyncSession, ids: set[uuid.UUID]
    ) -> Mapping[uuid.UUID, Subscription]:
        found = {}
        for method in await contacts.sendable(session, ids, ContactKind.WEB_PUSH):
            keys = method.keys
            if isinstance(keys, dict) and keys.get("p256dh") and keys.get("auth"):
                found[method.id] = Subscription(
                    method.address,
                    str(keys["p256dh"]),
                    str(keys["auth"]),
                    method.verified_at is not None,
                    method.verification_sent_at,
                )
        return found

    def payload(self, message: Leased, destination: Subscription) -> dict[str, Any] | None:
        """The notification's JSON, or None when the message is not one this route carries."""
        data = message.payload
        message_id = str(message.id)
        if message.event_type == push_payloads.WITHDRAWN_EVENT:
            return push_payloads.withdraw(str(data["request_id"]), message_id=message_id)
        if message.event_type == push_payloads.VERIFY_EVENT:
            sent_at = destination.verification_sent_at
            if sent_at is None:
                return None
            # The test message's code, derived again (stored nowhere).
            code = contacts.verification_code(self.secret, message.destination_id, sent_at)
            return push_payloads.verify(code, message_id=message_id)
        if message.event_type == notices.EVENT_TYPE:
            return notices.notice(data, self.settings.public_url).push(message_id)
        if "alert" not in data or "request_id" not in data:
            return None
        # An Acknowledge action only for who holds the request: the requester's alerts (a
        # question, an answer) are for reading, and its side does not acknowledge.
        token = None
        reason = data["alert"].get("reason")
        if reason in push_payloads.ACKNOWLEDGEABLE and not data.get("acknowledged_at"):
            token = ack_links.token(self.secret, message.id)
        return push_payloads.alert(
            data,
            message_id=message_id,
            # The dashboard's page of the request (the fan-out's path is the page's own).
            url=f"{self.settings.public_url.rstrip('/')}{WEB_PREFIX}{data['alert']['path']}",
            ack=token,
            ack_url=ack_links.url(self.settings, token) if token else None,
        )

    def headers(self, message: Leased, endpoint: str) -> dict[str, str]:
        emergency = message.payload.get("priority") == Priority.EMERGENCY.value
        verify = message.event_type == push_payloads.VERIFY_EVENT
        return {
            "Authorization": self.vapid.authorization(
                endpoint, subject=self.settings.vapid_subject
            ),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(VERIFY_TTL if verify else ALERT_TTL),
            "Urgency": "high" if emergency and not verify else "normal",
            "Topic": topic(message),
        }

    async def send(self, message: Leased, destination: Subscription) -> Outcome:
        if message.event_type == push_payloads.VERIFY_EVENT and destination.verified:
            return Outcome(MOOT, response="verified meanwhile", final=True)
        payload = self.payload(message, destination)
        if payload is None:
            reason = f"nothing to push for {message.event_type}"
            return Outcome(INVALID, response=reason, final=True)
        try:
            encrypted = WebPusher(destination.info()).encode(
                json.dumps(payload, separators=(",", ":")).encode(), "aes128gcm"
            )["body"]
        except (WebPushException, http_ece.ECEException, ValueError, TypeError) as exc:
            # Keys that are no P-256 point or auth secret: no attempt will ever work.
            return Outcome(
                INVALID, response=f"unusable subscription keys ({type(exc).__name__})", final=True
            )
        return await self.http.post(
            destination.endpoint,
            bytes(encrypted),
            self.headers(message, destination.endpoint),
            gone=GONE,
        )

    async def after(self, session: AsyncSession, attempts: Sequence[Attempted]) -> None:
        """Disable the subscriptions their push service says are gone, audited."""
        gone = {
            a.message.destination_id
            for a in attempts
            if a.outcome.final and a.outcome.status_code in GONE
        }
        if not gone:
            return
        disabled = (
            await session.execute(
                update(ContactMethod)
                .where(ContactMethod.id.in_(gone), ContactMethod.disabled_at.is_(None))
                .values(disabled_at=func.now())
                .returning(ContactMethod.id, ContactMethod.principal_id)
            )
        ).all()
        if not disabled:
            return
        countries = dict(
            (
                await session.execute(
                    select(Principal.id, Agency.owner_country)
                    .join(Agency, Agency.id == Principal.agency_id)
                    .where(Principal.id.in_({principal for _, principal in disabled}))
                )
            ).all()
        )
        statuses = {
            a.message.destination_id: a.outcome.status_code for a in attempts if a.outcome.final
        }
        await audit.record_each(
            session,
            None,
            "contact_method.disabled",
            object_type=OBJECT_TYPE,
            entries=[
                audit.Entry(
                    str(method_id),
                    details={
                        "principal_id": str(principal_id),
                        "kind": ContactKind.WEB_PUSH.value,
                        "reason": "the push service says the subscription is gone",
                        "status_code": statuses.get(method_id),
                    },
                    countries=(countries.get(principal_id),),
                )
                for method_id, principal_id in disabled
            ],
        )
        log.info("%d web push subscription(s) gone: disabled", len(disabled))
