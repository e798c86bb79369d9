"""How long a request's content is kept after it is final, by type (here); the legal hold
(legal_hold.py); the purge of content past its retention (purge.py) and the job that runs it
in every instance, one at a time (job.py)."""

from __future__ import annotations

from collections.abc import Mapping

from app.models.enums import RequestType

# Days after a request is final (closed, declined, cancelled). A preservation order lapses
# (Budapest Art. 29: 60 days, extendable): its traces are kept a little longer than that; an
# emergency disclosure half a year; mutual assistance, which feeds a court case abroad, two
# years; everything else a year. RELAY247_RETENTION_DAYS overrides by type.
DEFAULT_RETENTION_DAYS: dict[RequestType, int] = {
    RequestType.PRESERVATION: 90,
    RequestType.TRAFFIC_DATA: 365,
    RequestType.SUBSCRIBER_INFO: 365,
    RequestType.EMERGENCY_DISCLOSURE: 180,
    RequestType.MUTUAL_ASSISTANCE: 730,
    RequestType.TECHNICAL_ASSISTANCE: 365,
    RequestType.INCIDENT_SUPPORT: 365,
    RequestType.INFORMATION_SHARING: 365,
}


def retention_days(request_type: RequestType, overrides: Mapping[str, int]) -> int:
    """The retention a new request of this type gets (fixed at its creation); ``overrides``:
    RELAY247_RETENTION_DAYS, days by type's value."""
    return overrides.get(request_type.value, DEFAULT_RETENTION_DAYS[request_type])
