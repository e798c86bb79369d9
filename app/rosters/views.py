"""Reading a country's roster: who is on duty at an instant, the shifts and the gaps of a
window, and the shifts as an iCalendar feed for the desk's calendars."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

import icalendar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInputError
from app.identity import policy
from app.identity.auth import Actor
from app.rosters import resolution, store
from app.rosters.schemas import Duty, GapList, GapOut, OnDutyOut, ShiftList, ShiftOut, Source

# Resolving a window is pure Python and may take tens of milliseconds (93 days of hourly
# shifts: ~80 ms): it runs in a worker thread, so the event loop, and every socket it serves,
# keeps its turn every few milliseconds meanwhile.
MAX_WINDOW = timedelta(days=93)  # a quarter: what a desk plans at once
PRODID = "-//relay247//duty rosters//EN"


def _require_reader(actor: Actor, country: str) -> None:
    policy.require(actor, policy.Action.READ_ROSTER, policy.Owner(country=country))


def _check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInputError("must be after from", field="to")
    if end - start > MAX_WINDOW:
        raise InvalidInputError(
            f"is more than {MAX_WINDOW.days} days after from: ask in parts", field="to"
        )


def _duty(roster: store.Roster, shift: resolution.Shift) -> Duty:
    return Duty(
        principal_id=shift.principal_id,
        name=roster.names.get(shift.principal_id, ""),
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        source=cast(Source, shift.source),
        source_id=shift.source_id,
    )


async def on_duty(
    session: AsyncSession, actor: Actor, country: str, at: datetime | None
) -> OnDutyOut:
    """Primary and backup at ``at`` (default: the database clock's now), each with the whole
    shift they are in."""
    _require_reader(actor, country)
    return await resolve_on_duty(session, country, at)


async def resolve_on_duty(session: AsyncSession, country: str, at: datetime | None) -> OnDutyOut:
    """Who is on duty, for callers that have checked what the actor may see of it."""
    if at is None:
        at = (await session.execute(select(func.now()))).scalar_one()
    reach = resolution.ON_DUTY_REACH
    roster = await store.load(session, country, at - reach, at + reach)
    found = await asyncio.to_thread(
        resolution.on_duty,
        roster.zone,
        roster.rotations,
        roster.overrides,
        at,
        unavailable=roster.unavailable,
    )
    return OnDutyOut(
        country_code=country,
        time_zone=roster.time_zone,
        at=at,
        primary=_duty(roster, found.primary) if found.primary else None,
        backup=_duty(roster, found.backup) if found.backup else None,
    )


async def _resolved_shifts(
    session: AsyncSession, actor: Actor, country: str, start: datetime, end: datetime
) -> tuple[store.Roster, list[resolution.Shift]]:
    _require_reader(actor, country)
    _check_window(start, end)
    return await resolved(session, country, start, end)


async def resolved(
    session: AsyncSession, country: str, start: datetime, end: datetime
) -> tuple[store.Roster, list[resolution.Shift]]:
    """The country's roster and its shifts within [start, end), resolved off the event loop:
    for a caller that has checked who may read them."""
    roster = await store.load(session, country, start, end)
    found = await asyncio.to_thread(
        resolution.shifts,
        roster.zone,
        roster.rotations,
        roster.overrides,
        start,
        end,
        unavailable=roster.unavailable,
    )
    return roster, found


async def shifts(
    session: AsyncSession, actor: Actor, country: str, start: datetime, end: datetime
) -> ShiftList:
    roster, found = await _resolved_shifts(session, actor, country, start, end)
    return ShiftList(
        country_code=country,
        time_zone=roster.time_zone,
        from_=start,
        to=end,
        items=[ShiftOut(layer=shift.layer, **_duty(roster, shift).model_dump()) for shift in found],
    )


async def gaps(
    session: AsyncSession, actor: Actor, country: str, start: datetime, end: datetime
) -> GapList:
    _require_reader(actor, country)
    _check_window(start, end)
    roster = await store.load(session, country, start, end)
    found = await asyncio.to_thread(
        resolution.gaps,
        roster.zone,
        roster.rotations,
        roster.overrides,
        start,
        end,
        unavailable=roster.unavailable,
    )
    return GapList(
        country_code=country,
        time_zone=roster.time_zone,
        from_=start,
        to=end,
        items=[
            GapOut(layer=gap.layer, starts_at=gap.starts_at, ends_at=gap.ends_at) for gap in found
        ],
    )


async def calendar(
    session: AsyncSession, actor: Actor, country: str, start: datetime, end: datetime
) -> bytes:
    """The shifts as iCalendar (RFC 5545): one event per shift, in UTC, with a UID that stays
    the same for the same shift, so a calendar that re-reads the feed updates in place."""
    roster, found = await _resolved_shifts(session, actor, country, start, end)
    return await asyncio.to_thread(ical, roster, found, f"relay247 duty roster {country}")


def ical(roster: store.Roster, found: list[resolution.Shift], title: str) -> bytes:
    """Shifts of ``roster`` as an iCalendar document named ``title`` (what a calendar
    application shows as the subscription's name)."""
    country = roster.country_code
    feed = icalendar.Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("x-wr-calname", title)
    feed.add("x-wr-timezone", roster.time_zone)
    stamp = datetime.now(UTC)
    for shift in found:
        name = roster.names.get(shift.principal_id, str(shift.principal_id))
        event = icalendar.Event()
        event.add(
            "uid",
            f"{shift.source_id}-{shift.layer.value}-{shift.starts_at:%Y%m%dT%H%M%SZ}@relay247",
        )
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.starts_at.astimezone(UTC))
        event.add("dtend", shift.ends_at.astimezone(UTC))
        event.add("summary", f"{shift.layer.value.capitalize()} on duty: {name}")
        event.add(
            "description",
            f"{country} desk, {shift.layer.value} layer: {name} ({shift.principal_id}), "
            f"by {shift.source} {shift.source_id}",
        )
        feed.add_component(event)
    document: bytes = feed.to_ical()
    return document
