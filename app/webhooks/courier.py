"""The courier of Route.WEBHOOK: one signed POST per attempt, and the endpoints' health.

Each attempt is signed afresh (webhook-timestamp is the attempt's, so receivers' replay
windows hold) with the message's id as webhook-id, the same on every retry and resend. While
a rotation overlaps, the previous secret signs too. What an endpoint answers decides its
fate in after(): a success clears its failing clock, a failure starts it, 410 Gone or a clock
older than RELAY247_WEBHOOK_DISABLE_AFTER disables it (notices.py tells its agency).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ARRAY, Boolean, DateTime, Interval, String, Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.service_secret import ServiceSecret, ServiceSecretError
from app.core.settings import OutboxSettings
from app.models import WebhookEndpoint
from app.models.enums import HandlingCode
from app.models.outbox import Route
from app.outbound.http import OutboundHttp
from app.outbound.signatures import signature_headers
from app.outbox.couriers import INVALID, MOOT, Attempted, Leased, Outcome
from app.webhooks import SECRET_PURPOSE, notices, payload

log = logging.getLogger(__name__)

GONE = 410


@dataclass(frozen=True, slots=True)
class Destination:
    id: uuid.UUID
    url: str
    tlp_ceiling: HandlingCode
    keys: tuple[str, ...]  # whsec_ / whsk_: the current one, then the previous in its overlap


# Per endpoint of a batch: its last outcome decides. A success clears the clock; a failure
# starts it (at the batch's first failure) unless it runs; 410 disables at once; a clock
# older than :disable_after disables. Disabled ones are answered, to be told.
_HEALTH = text(
    """
    WITH outcomes AS (
        SELECT * FROM unnest(:ids, :started, :failed, :gone) AS o(id, started_at, failed, gone)
    ),
    per_endpoint AS (
        SELECT id,
               (array_agg(failed ORDER BY started_at DESC))[1] AS failing,
               min(started_at) FILTER (WHERE failed) AS first_failure,
               bool_or(gone) AS gone
        FROM outcomes GROUP BY id
    ),
    judged AS (
        SELECT w.id,
               CASE WHEN p.failing THEN coalesce(w.failing_since, p.first_failure) END AS since,
               p.gone, w.failing_since AS was
        FROM per_endpoint p JOIN webhook_endpoints w ON w.id = p.id AND w.disabled_at IS NULL
    ),
    decided AS (
        SELECT id, since,
               CASE WHEN gone THEN :gone_reason
                    WHEN since <= now() - :disable_after THEN :failing_reason END AS reason
        FROM judged
    )
    UPDATE webhook_endpoints w
    SET failing_since = d.since,
        disabled_at = CASE WHEN d.reason IS NOT NULL THEN now() END,
        disabled_reason = d.reason
    FROM decided d
    WHERE w.id = d.id
      AND (d.reason IS NOT NULL OR d.since IS DISTINCT FROM w.failing_since)
    RETURNING w.id, w.agency_id, w.disabled_reason, w.failing_since
    """
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid)),
    bindparam("started", type_=ARRAY(DateTime(timezone=True))),
    bindparam("failed", type_=ARRAY(Boolean)),
    bindparam("gone", type_=ARRAY(Boolean)),
    bindparam("disable_after", type_=Interval),
    bindparam("gone_reason", type_=String),
    bindparam("failing_reason", type_=String),
)


class WebhookCourier:
    route = Route.WEBHOOK

    def __init__(self, settings: OutboxSettings, secret: ServiceSecret, http: OutboundHttp) -> None:
        self._settings = settings
        self._secret = secret
        self._http = http
        self.schedule: Sequence[float] = tuple(settings.webhook_retry_schedule)

    def _open(self, sealed: bytes) -> str:
        return self._secret.open(SECRET_PURPOSE, sealed).decode()

    async def destinations(
        self, session: AsyncSession, ids: set[uuid.UUID]
    ) -> Mapping[uuid.UUID, Destination]:
        rows = await session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_(ids), WebhookEndpoint.disabled_at.is_(None)
            )
        )
        now = datetime.now(UTC)
        found: dict[uuid.UUID, Destination] = {}
        for endpoint in rows:
            try:
                keys = [self._open(endpoint.secret)]
                until = endpoint.previous_secret_until
                if endpoint.previous_secret is not None and until is not None and until > now:
                    keys.append(self._open(endpoint.previous_secret))
            except ServiceSecretError:
                # Sealed with another service secret (instances that do not share the file):
                # its messages fail as invalid rather than stopping the sender for everyone.
                log.error("webhook endpoint %s: its secret does not open here", endpoint.id)
                continue
            found[endpoint.id] = Destination(
                endpoint.id, endpoint.url, endpoint.tlp_ceiling, tuple(keys)
            )
        return found

    async def send(self, message: Leased, destination: Destination) -> Outcome:
        body = payload.body(
            message.event_type, message.created_at, message.payload, destination.tlp_ceiling
        )
        headers = signature_headers(str(message.id), int(time.time()), body, destination.keys)
        headers["Content-Type"] = "application/json"
        return await self._http.post(destination.url, body, headers, gone=frozenset({GONE}))

    async def after(self, session: AsyncSession, attempts: Sequence[Attempted]) -> None:
        # An attempt that never reached the endpoint (it was disabled or deleted meanwhile,
        # or the message was moot) says nothing of its health.
        counted = [a for a in attempts if a.outcome.outcome not in (INVALID, MOOT)]
        if not counted:
            return
        rows = await session.execute(
            _HEALTH,
            {
                "ids": [a.message.destination_id for a in counted],
                "started": [a.started_at for a in counted],
                "failed": [not a.outcome.delivered for a in counted],
                "gone": [a.outcome.status_code == GONE and a.outcome.final for a in counted],
                "disable_after": self._settings.webhook_disable_after,
                "gone_reason": "the endpoint answered 410 Gone",
                "failing_reason": "every attempt failed for "
                f"{self._settings.webhook_disable_after}",
            },
        )
        disabled = [
            notices.Disabled(row.id, row.agency_id, row.disabled_reason, row.failing_since)
            for row in rows
            if row.disabled_reason is not None
        ]
        await notices.tell(session, disabled)
