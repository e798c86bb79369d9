"""When relay247 stops sending to an endpoint by itself (it answered 410 Gone, or every
attempt failed for RELAY247_WEBHOOK_DISABLE_AFTER), its agency must hear of it some other
way than the webhook that no longer works: each of its people gets an alert on their verified
contact methods (e-mail, push, gateway), and the trail an entry. Metadata only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.models import Agency, ContactMethod, Principal
from app.models.outbox import Route
from app.outbox.enqueue import NewMessage, enqueue
from app.webhooks import OBJECT_TYPE

EVENT_TYPE = "webhook.disabled"
AUDIT_ACTION = "webhook_endpoint.disabled"


@dataclass(frozen=True, slots=True)
class Notice:
    """The notice in words (e-mail) and as data (a gateway), from a message's payload."""

    endpoint_id: str
    reason: str
    failing_since: str | None
    endpoint_url: str  # the endpoint over the API

    subject = "[relay247] Your agency's webhook endpoint was disabled"

    def lines(self) -> list[str]:
        lines = [
            f"relay247 stopped sending to your agency's webhook endpoint {self.endpoint_id}: "
            f"{self.reason}.",
        ]
        if self.failing_since:
            lines.append(f"Every attempt has failed since {self.failing_since}.")
        lines += [
            "",
            "Your case system is told nothing more until the endpoint is enabled again:",
            f'PATCH {self.endpoint_url} with {{"enabled": true}} (or `relay247 webhooks '
            f"enable {self.endpoint_id}`), then POST {self.endpoint_url}/recover to send again "
            "what failed.",
            "",
            "This notice carries no request content.",
        ]
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "reason": EVENT_TYPE,
            "headline": "Your agency's webhook endpoint was disabled",
            "endpoint_id": self.endpoint_id,
            "disabled_reason": self.reason,
            "failing_since": self.failing_since,
            "endpoint_url": self.endpoint_url,
        }

    def push(self, message_id: str) -> dict[str, Any]:
        """A Web Push notification (app/alerts/push_payloads.py's shape): shown, no action."""
        return {
            "kind": "notice",
            "id": message_id,
            "tag": f"webhook:{self.endpoint_id}",
            "title": "relay247: your agency's webhook endpoint was disabled",
            "body": f"{self.reason}. Enable it again, then recover what failed.",
        }


def notice(payload: dict[str, Any], public_url: str) -> Notice:
    """What a ``webhook.disabled`` message says (its payload, as tell() wrote it)."""
    endpoint_id = str(payload.get("endpoint_id", ""))
    return Notice(
        endpoint_id=endpoint_id,
        reason=str(payload.get("reason", "it failed")),
        failing_since=payload.get("failing_since"),
        endpoint_url=f"{public_url.rstrip('/')}/v1/webhook-endpoints/{endpoint_id}",
    )


@dataclass(frozen=True, slots=True)
class Disabled:
    id: uuid.UUID
    agency_id: uuid.UUID
    reason: str
    failing_since: datetime | None


async def tell(session: AsyncSession, disabled: Sequence[Disabled]) -> None:
    """The audit entries and the alerts of endpoints just disabled, in the transaction that
    disabled them."""
    for endpoint in disabled:
        country = await session.scalar(
            select(Agency.owner_country).where(Agency.id == endpoint.agency_id)
        )
        details = {
            "agency_id": str(endpoint.agency_id),
            "reason": endpoint.reason,
            "failing_since": endpoint.failing_since.isoformat() if endpoint.failing_since else None,
        }
        await audit.record(
            session,
            None,
            AUDIT_ACTION,
            object_type=OBJECT_TYPE,
            object_id=str(endpoint.id),
            countries=(country,),
            details=details,
        )
        methods = await session.execute(
            select(ContactMethod.id, ContactMethod.kind, ContactMethod.principal_id)
            .join(Principal, Principal.id == ContactMethod.principal_id)
            .where(
                Principal.agency_id == endpoint.agency_id,
                Principal.disabled_at.is_(None),
                ContactMethod.verified_at.is_not(None),
                ContactMethod.disabled_at.is_(None),
            )
        )
        payload = {
            "endpoint_id": str(endpoint.id),
            **details,
            "alert": {"reason": EVENT_TYPE, "path": f"/v1/webhook-endpoints/{endpoint.id}"},
        }
        await enqueue(
            session,
            *(
                NewMessage(
                    route=Route(method.kind.value),
                    destination_id=method.id,
                    event_type=EVENT_TYPE,
                    payload=payload,
                    principal_id=method.principal_id,
                )
                for method in methods
            ),
        )
