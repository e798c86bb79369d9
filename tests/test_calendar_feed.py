"""A person's calendar feed: a subscription link to their own shifts, which a calendar
application reads with no other credential."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import icalendar
import pytest

from app.core.database import Database
from app.core.observability.redaction import redact
from app.models.enums import Cadence, Layer, OverrideKind, Role
from tests.audit_trail import details, entries
from tests.clients import http
from tests.conftest import RunningServer, free_port
from tests.factories import Party, World, make_contact_point, make_override, make_rotation
from tests.processes import environment, serving

FEED = "/v1/me/calendar-feed"


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with http(server.http) as client:
        yield client


@pytest.fixture
async def second(database: Database, world: World) -> Party:
    return await make_contact_point(database, world, "DE", "DE officer B")


def _hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


async def _roster(database: Database, world: World, second: Party) -> datetime:
    """Germany's primary layer alternating daily between the desk and ``second`` from three
    weeks ago (UTC is the country's zone), and the desk covering ``second``'s next shift's
    first 6 hours. Returns the cover's start."""
    start = _hour() - timedelta(days=21)
    await make_rotation(
        database,
        "DE",
        [world.desk("DE").principal_id, second.principal_id],
        starts_local=start.replace(tzinfo=None, hour=8),
        cadence=Cadence.DAILY,
    )
    await make_rotation(
        database,
        "DE",
        [second.principal_id],
        layer=Layer.BACKUP,
        starts_local=start.replace(tzinfo=None, hour=8),
        cadence=Cadence.WEEKLY,
    )
    cover_from = _hour() + timedelta(days=3)
    await make_override(
        database,
        "DE",
        OverrideKind.COVER,
        world.desk("DE").principal_id,
        layer=Layer.BACKUP,
        starts_at=cover_from,
        ends_at=cover_from + timedelta(hours=6),
    )
    return cover_from


def _events(body: bytes) -> list[icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    assert calendar["version"] == "2.0"
    assert calendar["prodid"]
    return list(calendar.walk("VEVENT"))


async def test_a_feed_holds_exactly_its_persons_shifts(
    client: httpx.AsyncClient, database: Database, world: World, second: Party
) -> None:
    cover_from = await _roster(database, world, second)
    desk = world.desk("DE")
    issued = await client.post(FEED, headers=desk.headers)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    feed = issued.json()
    assert feed["active"] is True
    assert datetime.fromisoformat(feed["created_at"]) <= datetime.now(UTC)
    assert feed["path"] == f"/v1/calendar/{feed['token']}.ics"
    assert feed["url"].endswith(feed["path"])
    assert feed["webcal_url"].startswith("webcal://")
    assert feed["webcal_url"].endswith(feed["path"])

    # No bearer token, no cookie: the link is the credential.
    answer = await client.get(feed["path"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    assert answer.headers["cache-control"] == "private, max-age=300"
    events = _events(answer.content)
    now = datetime.now(UTC)

    # The same window of the roster, read the ordinary way, filtered to the desk.
    shifts = await client.get(
        "/v1/countries/DE/roster/shifts",
        params={
            "from": (now - timedelta(days=14, minutes=5)).isoformat(),
            "to": (now + timedelta(days=60, minutes=5)).isoformat(),
        },
        headers=world("DE", Role.NCB).headers,
    )
    expected = {
        (datetime.fromisoformat(s["starts_at"]), datetime.fromisoformat(s["ends_at"]), s["layer"])
        for s in shifts.json()["items"]
        if s["principal_id"] == str(desk.principal_id)
        and datetime.fromisoformat(s["ends_at"]) > now - timedelta(days=14)
        and datetime.fromisoformat(s["starts_at"]) < now + timedelta(days=60)
    }
    got = {
        (
            event.decoded("dtstart"),
            event.decoded("dtend"),
            str(event["summary"]).split(" ", 1)[0].lower(),
        )
        for event in events
    }

    # The window's edges are "now" when each was read (the feed's, then the roster's): a shift
    # across an edge is cut there, at slightly different instants. Compare such a shift by
    # its side inside the window.
    def edges_cut(shift: tuple[datetime, datetime, str]) -> tuple[Any, ...]:
        start, end, layer = shift
        near = timedelta(minutes=10)
        return (
            start if start > now - timedelta(days=14) + near else "cut",
            end if end < now + timedelta(days=60) - near else "cut",
            layer,
        )

    assert {edges_cut(shift) for shift in got} == {edges_cut(shift) for shift in expected}
    assert len(got) >= 30, "about half the primary days of 74, and the cover"
    assert (cover_from, cover_from + timedelta(hours=6), "backup") in got
    assert all("DE officer B" not in str(event["summary"]) for event in events)
    uids = [str(event["uid"]) for event in events]
    assert len(set(uids)) == len(uids)


async def test_issue_rotates_revoke_ends_and_both_are_audited(
    client: httpx.AsyncClient, database: Database, world: World
) -> None:
    desk = world.desk("DE")
    assert (await client.get(FEED, headers=desk.headers)).json()["active"] is False
    first = (await client.post(FEED, headers=desk.headers)).json()
    assert (await client.get(first["path"])).status_code == 200
    described = (await client.get(FEED, headers=desk.headers)).json()
    assert described == {
        "active": True,
        "prefix": first["prefix"],
        "created_at": described["created_at"],
    }
    assert "token" not in described

    second = (await client.post(FEED, headers=desk.headers)).json()
    assert second["token"] != first["token"]
    assert (await client.get(first["path"])).status_code == 404, "rotated: the old one ends"
    assert (await client.get(second["path"])).status_code == 200

    assert (await client.delete(FEED, headers=desk.headers)).status_code == 204
    gone = await client.get(second["path"])
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert (await client.delete(FEED, headers=desk.headers)).status_code == 404
    assert (await client.get(FEED, headers=desk.headers)).json()["active"] is False

    issued = await entries(database, "calendar_feed.issued")
    assert [details(e)["prefix"] for e in issued] == [first["prefix"], second["prefix"]]
    assert details(issued[1])["replaced"] == first["prefix"]
    assert all(e.actor_principal_id == desk.principal_id for e in issued)
    assert "DE" in issued[0].countries
    revoked = await entries(database, "calendar_feed.revoked")
    assert [details(e)["prefix"] for e in revoked] == [second["prefix"]]
    for entry in [*issued, *revoked]:
        flat = str(entry.details)
        assert first["token"] not in flat
        assert second["token"] not in flat


async def test_wrong_malformed_and_disabled_links_are_404(
    client: httpx.AsyncClient, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    feed = (await client.post(FEED, headers=desk.headers)).json()
    token: str = feed["token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    unknown_prefix = "r247_000000000000_" + token.split("_", 2)[2]
    for wrong in (forged, unknown_prefix, "nothing", "r247_" + "a" * 60, "%00"):
        answer = await client.get(f"/v1/calendar/{wrong}.ics")
        assert answer.status_code == 404, (wrong, answer.text)
    # An API token is not a feed's link, nor the other way round.
    assert (await client.get(f"/v1/calendar/{desk.token}.ics")).status_code == 404
    as_bearer = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401

    await db.execute("UPDATE principals SET disabled_at = now() WHERE id = $1", desk.principal_id)
    assert (await client.get(feed["path"])).status_code == 404


async def test_who_has_no_roster_has_no_feed(client: httpx.AsyncClient, world: World) -> None:
    for party in (world.unit("FR"), world.auditor):
        answer = await client.post(FEED, headers=party.headers)
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
    assert (await client.post(FEED)).status_code == 401


@pytest.mark.slow
async def test_a_feeds_link_never_reaches_the_log(
    world: World, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    env = environment(DATABASE_URL=database_url)
    desk = world.desk("DE")
    async with (
        serving(free_port(), env, log=log) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        feed = (await client.post(FEED, headers=desk.headers)).json()
        assert (await client.get(feed["path"])).status_code == 200
        assert (await client.get(f"/v1/calendar/{uuid.uuid4()}-not-one.ics")).status_code == 404
        encoded = feed["path"].replace("_", "%5F")
        assert (await client.get(encoded)).status_code == 200
    written = log.read_text(errors="replace")
    assert "/v1/calendar/[redacted]" in written, "the feed's requests are in the access log"
    secret = feed["token"].split("_", 2)[2]
    assert secret not in written
    assert "not-one" not in written


def test_a_feeds_path_is_redacted_whatever_it_holds() -> None:
    """Not only a well-formed link: a mistyped one is still most of a secret."""
    line = '127.0.0.1:5 - "GET /v1/calendar/r247_0123456789ab_secret-part.ics?x=1 HTTP/1.1" 404'
    assert redact(line) == '127.0.0.1:5 - "GET /v1/calendar/[redacted]?[redacted] HTTP/1.1" 404'
    assert "almost" not in redact("GET /v1/calendar/almost-a-link.ics")
