"""The gateway courier (Route.GATEWAY): a country's own SMS, voice or pager gateway, reached
as a Standard Webhooks endpoint. Each alert is a signed POST (``webhook-id`` is the outbox
message's id, the same on every retry) of the alert's metadata and its one-time acknowledge
link, for the gateway to speak or text; a contact method's test message carries its code.
Sent through the guarded client (app/outbound/http.py): HTTPS, no private addresses unless
allowed, no redirects, answers read to a bound.

The body: ``{"type": ..., "timestamp": ..., "data": {...}}``, as Standard Webhooks suggests;
``data`` is app/alerts/wording.py's Alert as JSON, or ``{"code": ...}`` for a test.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import contacts, wording
from app.core.service_secret import ServiceSecret, ServiceSecretError
from app.core.settings import OutboxSettings
from app.models.contact import ContactKind
from app.models.outbox import Route
from app.outbound.http import OutboundHttp
from app.outbound.signatures import signature_headers
from app.outbox.couriers import INVALID, MOOT, Attempted, Courier, Leased, Outcome
from app.webhooks import notices


@dataclass(frozen=True, slots=True)
class Gateway:
    id: uuid.UUID
    url: str
    sealed_secret: bytes | None
    verified: bool
    verification_sent_at: datetime | None


class GatewayCourier:
    route = Route.GATEWAY

    def __init__(self, settings: OutboxSettings, secret: ServiceSecret, http: OutboundHttp) -> None:
        self._settings = settings
        self._secret = secret
        self._http = http
        self.schedule: Sequence[float] = settings.alert_retry_schedule

    async def destinations(
        self, session: AsyncSession, ids: set[uuid.UUID]
    ) -> Mapping[uuid.UUID, Gateway]:
        rows = await contacts.sendable(session, ids, ContactKind.GATEWAY)
        return {
            m.id: Gateway(
                m.id, m.address, m.secret, m.verified_at is not None, m.verification_sent_at
            )
            for m in rows
        }

    def data(self, message: Leased, gateway: Gateway) -> dict[str, Any] | None:
        """What the gateway is told; None when it is no longer worth sending."""
        if message.event_type == contacts.VERIFY_EVENT:
            if gateway.verified or gateway.verification_sent_at is None:
                return None
            code = contacts.verification_code(
                self._secret, gateway.id, gateway.verification_sent_at
            )
            return {"contact_method_id": str(gateway.id), "code": code}
        if message.event_type == notices.EVENT_TYPE:
            return notices.notice(message.payload, self._settings.public_url).as_json()
        return wording.alert(message, self._settings, self._secret).as_json()

    async def send(self, message: Leased, destination: Gateway) -> Outcome:
        data = self.data(message, destination)
        if data is None:
            return Outcome(MOOT, response="verified meanwhile", final=True)
        if destination.sealed_secret is None:
            return Outcome(INVALID, response="the gateway has no signing secret", final=True)
        try:
            key = self._secret.open(contacts.GATEWAY_SEALED, destination.sealed_secret).decode()
        except ServiceSecretError:
            # Sealed with another service secret: no instance of this deployment can sign.
            return Outcome(INVALID, response="its secret cannot be opened", final=True)
        now = int(time.time())
        body = json.dumps(
            {
                "type": message.event_type,
                "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
                "data": data,
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            **signature_headers(str(message.id), now, body, [key]),
            "Content-Type": "application/json",
        }
        return await self._http.post(destination.url, body, headers)

    async def after(self, session: AsyncSession, attempts: Sequence[Attempted]) -> None:
        return None


def couriers(
    settings: OutboxSettings, secret: ServiceSecret, http: OutboundHttp
) -> dict[Route, Courier]:
    return {Route.GATEWAY: GatewayCourier(settings, secret, http)}
