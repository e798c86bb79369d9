"""What a message to a case system says: the Standard Webhooks body, thin by default.

The outbox keeps the event's metadata (app/requests/views.event_data and the like); only the
fields below are sent, and above the endpoint's TLP ceiling the request's id alone: the case
system reads the rest through the audited API, as whoever it authenticates as may.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from app.models.enums import HandlingCode

# The fields a thin message carries, when the event has them.
THIN_FIELDS = (
    "request_id",
    "message_id",
    "file_id",
    "type",
    "priority",
    "status",
    "requesting_country",
    "target_country",
    "handling_code",
    "version",
)
_ORDER = list(HandlingCode)  # TLP 2.0, least restricted first


def above(code: str | None, ceiling: HandlingCode) -> bool:
    """Whether metadata of ``code`` may not go to an endpoint of ``ceiling``: an unknown or
    missing code counts as above (the id alone is never wrong)."""
    known = {member.value: member for member in HandlingCode}
    if code is None or code not in known:
        return True
    return _ORDER.index(known[code]) > _ORDER.index(ceiling)


def thin(data: dict[str, Any], ceiling: HandlingCode) -> dict[str, Any]:
    if above(data.get("handling_code"), ceiling):
        return {"request_id": data.get("request_id")}
    return {name: data[name] for name in THIN_FIELDS if name in data}


def body(
    event_type: str, happened_at: datetime, data: dict[str, Any], ceiling: HandlingCode
) -> bytes:
    """The bytes signed and sent: compact JSON, so what is signed is exactly what is sent."""
    message = {
        "type": event_type,
        "timestamp": happened_at.isoformat(),
        "data": thin(data, ceiling),
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
