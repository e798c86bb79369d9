"""Telling a requester that shared data matches its request: ``request.matched`` on the
sending agency's channel, written in the transaction that found the matches (woken after
commit, like every event). Metadata only: the request and how many new matches its sender
may see (a match it may not see is neither shown nor counted: the count would tell it that
an object it may not read exists). Never a value: the identifiers are the request's content,
read with the audited GET /v1/requests/{id}/matches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.realtime import audience, event_log

EVENT = "request.matched"


@dataclass(frozen=True, slots=True)
class Told:
    request_id: uuid.UUID
    agency_id: uuid.UUID  # the requesting agency
    matches: int  # new matches the requester may see


async def tell_requesters(session: AsyncSession, told: Sequence[Told]) -> None:
    await event_log.publish_each(
        session,
        EVENT,
        [
            event_log.Publication(
                channels=[audience.agency_channel(each.agency_id)],
                request_id=each.request_id,
                data={"request_id": str(each.request_id), "matches": each.matches},
            )
            for each in told
            if each.matches > 0
        ],
    )
