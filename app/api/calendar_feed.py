"""/v1/me/calendar-feed and /v1/calendar/{token}.ics: a person's subscription link to their
own shifts (app/rosters/calendar_feed.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api import problems
from app.api.deps import CurrentActor, Session, SettingsOf
from app.api.tokens import NO_STORE
from app.rosters import calendar_feed
from app.rosters.calendar_feed import CalendarFeedIssued, CalendarFeedOut

router = APIRouter(tags=["rosters"])

_MINE = "/v1/me/calendar-feed"
# A calendar application re-reads a feed every few hours at most; a few minutes of caching in
# the client costs nothing, and the feed is one person's: no shared cache may keep it.
_FEED_CACHE = "private, max-age=300"

FeedToken = Annotated[
    str,
    Path(
        max_length=200,
        description="The link's secret, as POST /v1/me/calendar-feed gave it",
    ),
]


@router.get(_MINE, response_model=CalendarFeedOut, responses=problems.responses(403))
async def get_my_calendar_feed(session: Session, actor: CurrentActor) -> CalendarFeedOut:
    """Whether you have a calendar feed (its link is shown only when made)."""
    return await calendar_feed.describe(session, actor)


@router.post(
    _MINE,
    status_code=201,
    response_model=CalendarFeedIssued,
    responses=problems.responses(403),
)
async def issue_my_calendar_feed(
    session: Session, actor: CurrentActor, settings: SettingsOf, response: Response
) -> CalendarFeedIssued:
    """Make a subscription link to your own shifts, for a calendar application, which needs
    no other credential: shown this once. The link you had, if any, stops working."""
    response.headers.update(NO_STORE)
    return await calendar_feed.issue(session, actor, settings.outbox.public_url)


@router.delete(
    _MINE, status_code=204, response_class=Response, responses=problems.responses(403, 404)
)
async def revoke_my_calendar_feed(session: Session, actor: CurrentActor) -> Response:
    """Revoke your calendar feed: calendars subscribed to it get 404 from now on."""
    await calendar_feed.revoke(session, actor)
    return Response(status_code=204)


@router.get(
    "/v1/calendar/{token}.ics",
    response_class=Response,
    responses={
        200: {
            "description": "Your shifts as iCalendar (RFC 5545), two weeks back, two months on",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        },
        **problems.responses(404),
    },
)
async def read_calendar_feed(token: FeedToken, session: Session) -> Response:
    """A person's shifts, for their calendar application: the link is the credential (no
    token, no cookie). 404 for a link that is unknown or revoked, or whose person is
    disabled."""
    body = await calendar_feed.read(session, token)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": _FEED_CACHE,
            "Content-Disposition": 'inline; filename="relay247-shifts.ics"',
        },
    )
