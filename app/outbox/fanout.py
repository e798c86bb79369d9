"""The messages an event makes, written in the event's own transaction (event_log.publish
calls this): one per webhook endpoint that hears one of its channels, one per verified
contact method of each person the alert rules name (app/alerts/rules.py). An event that ends
a request's alerting (an acknowledgement) cancels its alerts not yet sent and withdraws, on
every device that showed one, the notification it left.

All of it is one statement, whatever the number of events: a batch job's events (the deadline
worker's) fan out together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, Integer, String, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import rules
from app.core.database.session import signal_after_commit
from app.outbox import SIGNAL

# An endpoint of the global desk hears every desk (it stores this instead of each country).
EVERY_DESK = "desk:*"
_DESK_PREFIX = "desk:"


@dataclass(frozen=True, slots=True)
class Fanned:
    """One event as the fan-out reads it."""

    type: str
    channels: Sequence[str]
    request_id: uuid.UUID | None
    data: dict[str, Any]
    recipients: Sequence[rules.Recipient] = field(default=())
    ends_alerts: bool = False

    @classmethod
    def of_event(
        cls,
        event_type: str,
        channels: Sequence[str],
        request_id: uuid.UUID | None,
        data: dict[str, Any],
    ) -> Fanned:
        """An event published on the log: the rules say whom it alerts."""
        return cls(
            event_type,
            channels,
            request_id,
            data,
            rules.recipients(event_type, data),
            request_id is not None and rules.ends_alerts(event_type, data),
        )


def heard_on(channels: Iterable[str]) -> list[str]:
    names = list(channels)
    if any(name.startswith(_DESK_PREFIX) for name in names):
        names.append(EVERY_DESK)
    return names


# What the events of one statement make, as CTEs reading a relation ``published`` (ord,
# type, request_id, data, channels) that the statement defines: fan_out() by unnesting a
# batch, event_log's single publish beside the event's own insert, so that the commonest
# write (one event) fans out in the same round trip. COUNT says how many messages it wrote.
CTES = """
    hooks AS (
        INSERT INTO outbox_messages (id, route, destination_id, event_type, request_id, payload)
        SELECT gen_random_uuid(), 'webhook', w.id, published.type, published.request_id,
               published.data
        FROM published JOIN webhook_endpoints w
          ON w.disabled_at IS NULL AND w.channels && published.channels
         AND (cardinality(w.event_types) = 0 OR published.type = ANY(w.event_types))
        RETURNING 1
    ),
    named AS (
        SELECT * FROM unnest(CAST(:r_ords AS int[]), CAST(:r_reasons AS varchar[]),
                             CAST(:r_principals AS uuid[]), CAST(:r_roles AS varchar[]),
                             CAST(:r_countries AS varchar[]), CAST(:r_agencies AS uuid[]))
          AS r(ord, reason, principal_id, role, country, agency_id)
    ),
    people AS (
        SELECT DISTINCT ON (ord, principal_id) ord, reason, principal_id FROM (
            SELECT named.ord, named.reason, p.id AS principal_id
            FROM named JOIN principals p ON p.id = named.principal_id
            WHERE p.disabled_at IS NULL
            UNION ALL
            SELECT named.ord, named.reason, p.id
            FROM named JOIN principals p ON p.agency_id = named.agency_id
            WHERE p.disabled_at IS NULL
            UNION ALL
            SELECT named.ord, named.reason, p.id
            FROM named JOIN principals p ON p.role = named.role
            JOIN agencies a ON a.id = p.agency_id
            WHERE p.disabled_at IS NULL
              AND (named.country IS NULL OR a.country_code = named.country)
        ) AS everyone
        ORDER BY ord, principal_id
    ),
    alerts AS (
        INSERT INTO outbox_messages (id, route, destination_id, event_type, request_id,
                                     principal_id, payload)
        SELECT gen_random_uuid(), m.kind, m.id, published.type, published.request_id,
               people.principal_id,
               published.data || jsonb_build_object('alert', jsonb_build_object(
                   'reason', people.reason,
                   'path', '/requests/' || published.request_id::text))
        FROM people JOIN published USING (ord)
        JOIN contact_methods m ON m.principal_id = people.principal_id
         AND m.verified_at IS NOT NULL AND m.disabled_at IS NULL
        RETURNING 1
    ),
    ended AS (
        SELECT DISTINCT request_id FROM published
        WHERE request_id = ANY(CAST(:ended AS uuid[]))
    ),
    cancelled AS (
        UPDATE outbox_messages o SET status = 'cancelled', finished_at = now()
        FROM ended
        WHERE o.request_id = ended.request_id AND o.status = 'pending'
          AND o.route <> 'webhook' AND o.leased_until IS NULL
        RETURNING 1
    ),
    withdrawn AS (
        INSERT INTO outbox_messages (id, route, destination_id, event_type, request_id,
                                     principal_id, payload)
        SELECT gen_random_uuid(), 'web_push', shown.destination_id, 'alert.withdrawn',
               shown.request_id, shown.principal_id,
               jsonb_build_object('request_id', shown.request_id::text)
        FROM (
            SELECT DISTINCT o.destination_id, o.request_id, o.principal_id
            FROM outbox_messages o JOIN ended USING (request_id)
            WHERE o.route = 'web_push' AND o.event_type <> 'alert.withdrawn'
              AND (o.status = 'sent' OR o.leased_until IS NOT NULL)
              AND NOT EXISTS (
                  SELECT 1 FROM outbox_messages w
                  WHERE w.request_id = o.request_id AND w.destination_id = o.destination_id
                    AND w.event_type = 'alert.withdrawn')
        ) AS shown
        RETURNING 1
    )
"""
COUNT = """
    (SELECT count(*) FROM hooks) + (SELECT count(*) FROM alerts)
    + (SELECT count(*) FROM withdrawn) + (SELECT count(*) FROM cancelled)
"""


def after(head: str) -> str:
    """A statement whose WITH ``head`` defines ``published`` (and ends with a comma), then
    the fan-out's CTES, answering with the COUNT of messages written."""
    return "".join((head, CTES, " SELECT ", COUNT))


_FAN_OUT = text(
    after(
        """
    WITH published AS (
        SELECT e.ord, e.type, e.request_id, d.data,
               CAST(ARRAY(SELECT jsonb_array_elements_text(c.list)) AS varchar[]) AS channels
        FROM unnest(CAST(:types AS varchar[]), CAST(:request_ids AS uuid[]))
          WITH ORDINALITY AS e(type, request_id, ord)
        JOIN jsonb_array_elements(CAST(:datas AS jsonb)) WITH ORDINALITY AS d(data, ord)
          USING (ord)
        JOIN jsonb_array_elements(CAST(:channel_lists AS jsonb)) WITH ORDINALITY AS c(list, ord)
          USING (ord)
    ),
    """
    )
).bindparams(
    bindparam("types", type_=ARRAY(String)),
    bindparam("request_ids", type_=ARRAY(Uuid)),
    bindparam("datas", type_=JSONB),
    bindparam("channel_lists", type_=JSONB),
)

# The recipients and ended requests as the CTES read them.
PARAMETERS = (
    bindparam("r_ords", type_=ARRAY(Integer)),
    bindparam("r_reasons", type_=ARRAY(String)),
    bindparam("r_principals", type_=ARRAY(Uuid)),
    bindparam("r_roles", type_=ARRAY(String)),
    bindparam("r_countries", type_=ARRAY(String)),
    bindparam("r_agencies", type_=ARRAY(Uuid)),
    bindparam("ended", type_=ARRAY(Uuid)),
)
_FAN_OUT = _FAN_OUT.bindparams(*PARAMETERS)


def parameters(events: Sequence[Fanned]) -> dict[str, Any]:
    """The values of PARAMETERS for ``events`` (numbered from 1, as ``published.ord``)."""
    named = [(ord_, r) for ord_, e in enumerate(events, start=1) for r in e.recipients]
    return {
        "r_ords": [ord_ for ord_, _ in named],
        "r_reasons": [r.reason for _, r in named],
        "r_principals": [r.principal_id for _, r in named],
        "r_roles": [r.role.value if r.role else None for _, r in named],
        "r_countries": [r.country for _, r in named],
        "r_agencies": [r.agency_id for _, r in named],
        "ended": [e.request_id for e in events if e.ends_alerts],
    }


def written(session: AsyncSession, count: int | None) -> None:
    """The statement wrote ``count`` messages: the sender is told once the caller commits."""
    if count:
        signal_after_commit(session, SIGNAL)


async def fan_out(session: AsyncSession, events: Sequence[Fanned]) -> None:
    """Write the messages ``events`` make, in the caller's transaction, in one statement."""
    if not events:
        return
    count = await session.scalar(
        _FAN_OUT,
        {
            "types": [e.type for e in events],
            "request_ids": [e.request_id for e in events],
            "datas": [e.data for e in events],
            "channel_lists": [heard_on(e.channels) for e in events],
            **parameters(events),
        },
    )
    written(session, count)
