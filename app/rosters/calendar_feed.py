"""A person's calendar feed: a subscription link to their own shifts.

A calendar application (Outlook, Google Calendar, Apple Calendar) fetches a feed by its URL
alone: it sends no bearer token and keeps no cookie. So the link carries its own credential,
made and kept as an API token is (app/identity/auth.py): ``r247_<prefix>_<secret>``, shown
once, of which only the prefix and a SHA-256 are stored. It reads one thing, its person's
shifts; it stops working when revoked, replaced, or when its person is disabled. The logs
never see it: the path of a feed is redacted like a bearer token (it has the same shape, and
app/core/observability/redaction.py names the path too).

A web session may make one (unlike a token, app/identity/tokens.py): a feed grants no
authority but reading the person's own shifts, and the page is where people subscribe.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import NotFoundError
from app.identity import policy
from app.identity.auth import Actor, new_token, token_digest, token_prefix
from app.models import Agency, CalendarFeed, Principal
from app.rosters import views

OBJECT_TYPE = "calendar_feed"
PATH = "/v1/calendar/{token}.ics"
# What a subscribed calendar shows: the last two weeks (what was worked) and the next two
# months (what a person plans around); 74 days, within what a roster view may resolve.
LOOK_BACK = timedelta(days=14)
LOOK_AHEAD = timedelta(days=60)
_UNKNOWN = "no calendar feed has this link: it is unknown or was revoked"
# Compared against when no row matched, so that an unknown link costs what a known one does.
_NO_HASH = b"\0" * 32


class CalendarFeedOut(BaseModel):
    """The caller's calendar feed, without its link (shown only when it is made)."""

    active: bool = Field(description="false: there is none; make one with POST")
    prefix: str | None = Field(description="The link's public handle, as the audit trail names it")
    created_at: datetime | None


class CalendarFeedIssued(CalendarFeedOut):
    token: str = Field(description="The link's secret. Shown this once: only a hash is kept.")
    path: str = Field(description="The feed's path on this service (needs no other credential)")
    url: str = Field(description="The feed's https address, after RELAY247_PUBLIC_URL")
    webcal_url: str = Field(description="The same address for calendar applications (webcal:)")


def _require_roster_reader(actor: Actor) -> None:
    # Shifts are in the person's country's roster: who may not read it has none to subscribe to.
    policy.require(actor, policy.Action.READ_ROSTER, policy.Owner(country=actor.country))


async def _active(session: AsyncSession, actor: Actor, *, lock: bool) -> CalendarFeed | None:
    query = select(CalendarFeed).where(
        CalendarFeed.principal_id == actor.principal_id, CalendarFeed.revoked_at.is_(None)
    )
    found: CalendarFeed | None = await session.scalar(query.with_for_update() if lock else query)
    return found


async def describe(session: AsyncSession, actor: Actor) -> CalendarFeedOut:
    _require_roster_reader(actor)
    feed = await _active(session, actor, lock=False)
    if feed is None:
        return CalendarFeedOut(active=False, prefix=None, created_at=None)
    return CalendarFeedOut(active=True, prefix=feed.prefix, created_at=feed.created_at)


async def _end(session: AsyncSession, feed: CalendarFeed) -> None:
    await session.execute(
        update(CalendarFeed).where(CalendarFeed.id == feed.id).values(revoked_at=func.now())
    )


async def issue(session: AsyncSession, actor: Actor, public_url: str) -> CalendarFeedIssued:
    """Make the caller's feed link, ending the one it had (a rotation): shown this once."""
    _require_roster_reader(actor)
    # Locks the person's working feed, so two issues at once end it once; the partial unique
    # index turns the loser of a race with none to lock into a 409.
    replaced = await _active(session, actor, lock=True)
    if replaced is not None:
        await _end(session, replaced)
    made = new_token()
    feed = CalendarFeed(
        principal_id=actor.principal_id, prefix=made.prefix, secret_hash=made.secret_hash
    )
    session.add(feed)
    await session.flush()
    await audit.record(
        session,
        actor,
        "calendar_feed.issued",
        object_type=OBJECT_TYPE,
        object_id=str(feed.id),
        countries=(actor.country,),
        details={
            "principal_id": str(actor.principal_id),
            "prefix": made.prefix,
            "replaced": replaced.prefix if replaced is not None else None,
        },
    )
    path = PATH.format(token=made.token)
    url = public_url.rstrip("/") + path
    return CalendarFeedIssued(
        active=True,
        prefix=made.prefix,
        created_at=feed.created_at,
        token=made.token,
        path=path,
        url=url,
        webcal_url="webcal://" + url.split("://", 1)[-1],
    )


async def revoke(session: AsyncSession, actor: Actor) -> None:
    """End the caller's feed: calendars subscribed to it get 404 from now on."""
    _require_roster_reader(actor)
    feed = await _active(session, actor, lock=True)
    if feed is None:
        raise NotFoundError("you have no calendar feed to revoke")
    await _end(session, feed)
    await audit.record(
        session,
        actor,
        "calendar_feed.revoked",
        object_type=OBJECT_TYPE,
        object_id=str(feed.id),
        countries=(actor.country,),
        details={"principal_id": str(actor.principal_id), "prefix": feed.prefix},
    )


_LOOKUP = (
    select(CalendarFeed.secret_hash, Principal.id, Principal.name, Agency.country_code)
    .join(Principal, Principal.id == CalendarFeed.principal_id)
    .join(Agency, Agency.id == Principal.agency_id)
    .where(CalendarFeed.revoked_at.is_(None), Principal.disabled_at.is_(None))
)


async def read(session: AsyncSession, token: str) -> bytes:
    """The feed a link names, as iCalendar: its person's shifts (rotations with covers, swaps,
    leaves applied) from two weeks back to two months ahead. 404 for a link that is malformed,
    unknown, revoked, or whose person is disabled, all alike."""
    prefix = token_prefix(token)
    if prefix is None:
        raise NotFoundError(_UNKNOWN)
    row = (await session.execute(_LOOKUP.where(CalendarFeed.prefix == prefix))).one_or_none()
    expected = row.secret_hash if row is not None else _NO_HASH
    if not hmac.compare_digest(expected, token_digest(token)) or row is None:
        raise NotFoundError(_UNKNOWN)
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    start, end = now - LOOK_BACK, now + LOOK_AHEAD
    # The link is the reader's credential, checked above: its person reads their own shifts.
    roster, found = await views.resolved(session, row.country_code, start, end)
    mine = [shift for shift in found if shift.principal_id == row.id]
    return await asyncio.to_thread(
        views.ical, roster, mine, f"relay247: shifts of {row.name} ({row.country_code})"
    )
