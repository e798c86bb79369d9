"""The dashboard's sessions over plain HTTP: what a sign-in makes, what a session cookie may
do without the page's CSRF token (nothing that changes state), which origins may use it, how
it ends, and the headers every page carries. The browser's view is
tests/browser/test_dashboard.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.identity.sessions import COOKIE, CSRF_HEADER, csrf_token
from app.models.enums import Role
from tests.audit_trail import entries
from tests.clients import close_of, http, submit_request
from tests.conftest import RunningServer, running_server
from tests.factories import Party, World, request_body
from tests.outage import stoppable_world
from tests.waiting import eventually

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def sign_in(client: httpx.AsyncClient, party: Party, **headers: str) -> httpx.Response:
    return await client.post(
        "/web/sign-in",
        content=f"token={party.token}",
        headers={**FORM, "Origin": str(client.base_url).rstrip("/"), **headers},
    )


async def session_of(client: httpx.AsyncClient, party: Party) -> str:
    answer = await sign_in(client, party)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/web/"
    cookie = answer.cookies[COOKIE]
    client.cookies.clear()  # each test says which cookie it sends
    return cookie


def with_cookie(cookie: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={cookie}", **headers}


async def test_a_sign_in_sets_a_strict_http_only_cookie_of_a_new_token(
    server: RunningServer, world: World, db: asyncpg.Connection, database: Database
) -> None:
    officer = world.desk("DE")
    async with http(server.http) as client:
        answer = await sign_in(client, officer)
    assert answer.status_code == 303
    set_cookie = answer.headers["set-cookie"]
    assert f"{COOKIE}=" in set_cookie
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in set_cookie.lower()
    assert "secure" not in set_cookie.lower()  # plain http on loopback; https sets it
    cookie = answer.cookies[COOKIE]
    assert cookie != officer.token

    row = await db.fetchrow(
        "SELECT s.label, s.expires_at, o.prefix AS origin FROM api_tokens s "
        "JOIN api_tokens o ON o.id = s.signed_in_with WHERE s.prefix = $1",
        cookie.split("_")[1],
    )
    assert row is not None
    assert row["label"] == "web session"
    assert row["origin"] == officer.token.split("_")[1]
    assert row["expires_at"] - datetime.now(UTC) <= timedelta(hours=12)
    started = await entries(database, "session.started")
    assert [entry.details["signed_in_with"] for entry in started] == [row["origin"]]


async def test_the_session_cookie_reads_but_changes_nothing_without_the_csrf_token(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        cookie = await session_of(client, world.unit("FR"))
        me = await client.get("/v1/me", headers=with_cookie(cookie))
        assert me.status_code == 200
        assert me.json()["role"] == "unit"

        forged = await client.post(
            "/v1/requests", json=request_body("DE"), headers=with_cookie(cookie)
        )
        assert forged.status_code == 403
        assert forged.headers["content-type"] == "application/problem+json"
        assert CSRF_HEADER in forged.json()["detail"]
        wrong = await client.post(
            "/v1/requests",
            json=request_body("DE"),
            headers=with_cookie(cookie, **{CSRF_HEADER: csrf_token(cookie + "x")}),
        )
        assert wrong.status_code == 403
        listed = await client.get("/v1/requests", headers=with_cookie(cookie))
        assert listed.json()["items"] == []  # neither refused call wrote anything

        made = await client.post(
            "/v1/requests",
            json=request_body("DE"),
            headers=with_cookie(cookie, **{CSRF_HEADER: csrf_token(cookie)}),
        )
        assert made.status_code == 201, made.text


async def test_a_bearer_token_needs_no_csrf_token_even_beside_a_cookie(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        cookie = await session_of(client, world.desk("DE"))
        made = await client.post(
            "/v1/requests",
            json=request_body("DE"),
            headers={**world.unit("FR").headers, **with_cookie(cookie)},
        )
    assert made.status_code == 201
    assert made.json()["requesting_country"] == "FR"  # the bearer's, not the cookie's


@pytest.mark.parametrize(
    ("origin", "status"),
    [("https://evil.example", 403), ("null", 403)],
)
async def test_a_sign_in_posted_from_another_site_is_refused(
    server: RunningServer, world: World, origin: str, status: int
) -> None:
    async with http(server.http) as client:
        answer = await sign_in(client, world.desk("DE"), Origin=origin)
    assert answer.status_code == status
    assert COOKIE not in answer.cookies


@pytest.mark.parametrize(
    "token",
    [
        "r247_0123456789ab_" + "A" * 43,  # well formed, unknown
        "r247_0123456789ab_" + "A" * 42 + "%00",  # a NUL
        "%FF%FE",  # not UTF-8
        "x" * 5000,  # longer than any form of ours
        "",
    ],
)
async def test_a_bad_token_gets_the_sign_in_page_again_with_why(
    server: RunningServer, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with http(server.http) as client:
        answer = await client.post(
            "/web/sign-in", content=f"token={token}", headers={**FORM, "Origin": server.http}
        )
    assert answer.status_code in (401, 422)
    assert answer.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in answer.text
    assert COOKIE not in answer.cookies
    if len(token) > 20:
        assert token[:40] not in caplog.text


async def test_signing_out_needs_the_csrf_token_and_then_ends_the_session(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        cookie = await session_of(client, world.desk("DE"))
        forged = await client.post("/web/sign-out", content="", headers=with_cookie(cookie, **FORM))
        assert forged.status_code == 403
        assert (await client.get("/v1/me", headers=with_cookie(cookie))).status_code == 200

        ended = await client.post(
            "/web/sign-out",
            content=f"csrf_token={csrf_token(cookie)}",
            headers=with_cookie(cookie, **FORM),
        )
        assert ended.status_code == 303
        assert ended.headers["location"] == "/web/sign-in"
        assert (await client.get("/v1/me", headers=with_cookie(cookie))).status_code == 401
        assert (await client.get("/web/", headers=with_cookie(cookie))).status_code == 303
    assert len(await entries(database, "session.ended")) == 1


async def test_revoking_the_token_signed_in_with_ends_its_sessions(
    server: RunningServer, world: World
) -> None:
    officer = world.desk("DE")
    async with http(server.http) as client:
        cookie = await session_of(client, officer)
        revoked = await client.post(
            f"/v1/tokens/{officer.token.split('_')[1]}/revoke", headers=world.gs.headers
        )
        assert revoked.status_code == 200
        assert (await client.get("/v1/me", headers=with_cookie(cookie))).status_code == 401


async def test_rotating_the_token_signed_in_with_bounds_its_sessions(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    officer = world.desk("DE")
    async with http(server.http) as client:
        cookie = await session_of(client, officer)
        rotated = await client.post(
            f"/v1/tokens/{officer.token.split('_')[1]}/rotate",
            json={"overlap_seconds": 60},
            headers=officer.headers,
        )
        assert rotated.status_code == 201, rotated.text
    query = "SELECT expires_at FROM api_tokens WHERE prefix = $1"
    old = await db.fetchval(query, officer.token.split("_")[1])
    session = await db.fetchval(query, cookie.split("_")[1])
    assert session <= old


async def test_a_socket_takes_the_cookie_from_the_page_s_own_origin_only(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        cookie = await session_of(client, world.desk("DE"))
    code, reason = await close_of(
        server.ws, headers={**with_cookie(cookie), "Origin": "https://evil.example"}
    )
    assert (code, reason) == (1008, "origin not allowed")
    # Without an Origin (not a browser) the cookie is not enough: it asks for a token.
    code, reason = await close_of(server.ws, headers=with_cookie(cookie), frame='{"type":"ping"}')
    assert (code, reason.startswith("authenticate first")) == (1008, True)


async def test_pages_carry_a_strict_content_security_policy(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        cookie = await session_of(client, world.desk("DE"))
        for path, session in (
            ("/web/sign-in", {}),
            ("/web/", with_cookie(cookie)),
            ("/web/static/js/queue.js", {}),
            ("/web/sw.js", {}),  # the service worker runs under the pages' policy too
        ):
            answer = await client.get(path, headers=session)
            assert answer.status_code == 200, path
            policy = answer.headers["content-security-policy"]
            assert "script-src 'self'" in policy
            assert "frame-ancestors 'none'" in policy
            assert "unsafe-inline" not in policy
            assert answer.headers["x-frame-options"] == "DENY"
        page = await client.get("/web/", headers=with_cookie(cookie))
        assert page.headers["cache-control"] == "no-store"
        assert f'content="{csrf_token(cookie)}"' in page.text
        assert "<script>" not in page.text  # no inline script: CSP would refuse it
        # The API keeps its own headers: its interactive docs load their script elsewhere.
        assert "content-security-policy" not in (await client.get("/v1/me")).headers


async def test_pages_without_a_session_lead_to_sign_in(server: RunningServer) -> None:
    async with http(server.http) as client:
        for path in ("/", "/web", "/web/", "/web/requests/00000000-0000-0000-0000-000000000000"):
            answer = await client.get(path, follow_redirects=True)
            assert answer.url.path == "/web/sign-in", path
        unknown = await client.get("/web/nothing-here", headers=with_cookie("r247_x"))
        assert unknown.status_code == 404
        forged = await client.get("/web/", headers=with_cookie("r247_0123456789ab_" + "B" * 43))
        assert forged.status_code == 303


async def test_a_session_acts_with_its_principal_s_rights_only(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "JP")
        cookie = await session_of(client, world.desk("DE"))
        seen = await client.get(f"/v1/requests/{created['id']}", headers=with_cookie(cookie))
        assert seen.status_code == 404


async def test_who_has_no_queue_lands_on_a_page_of_their_own(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        cookie = await session_of(client, world.auditor)
        landing = await client.get("/web/", headers=with_cookie(cookie))
    assert (landing.status_code, landing.headers["location"]) == (303, "/web/audit")


@pytest.mark.slow
async def test_a_page_says_plainly_when_the_database_is_down_and_recovers(
    tmp_path: Path,
) -> None:
    async with (
        stoppable_world(tmp_path / "outage") as (postgres, world),
        running_server(postgres.url) as server,
        http(server.http) as client,
    ):
        cookie = await session_of(client, world.desk("DE"))
        await postgres.stop()
        down = await client.get("/web/", headers=with_cookie(cookie))
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("text/html")
        assert down.headers["retry-after"] == "5"
        assert "cannot reach its database" in down.text
        assert 'http-equiv="refresh"' in down.text
        signing_in = await sign_in(client, world.desk("DE"))
        assert (signing_in.status_code, "cannot reach" in signing_in.text) == (503, True)

        await postgres.start()

        async def page_is_back() -> bool:
            answer = await client.get("/web/", headers=with_cookie(cookie))
            return answer.status_code == 200

        await eventually(page_is_back, within=20)


def prefix_of(token: str) -> str:
    return token.split("_")[1]


def with_session(cookie: str) -> dict[str, str]:
    """A state-changing call from the page: the cookie and the page's CSRF token."""
    return with_cookie(cookie, **{CSRF_HEADER: csrf_token(cookie)})


async def test_a_session_makes_no_token_that_could_outlive_it(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    officer, ncb = world.desk("DE"), world("DE", Role.NCB)
    before = await db.fetchval("SELECT count(*) FROM api_tokens")
    async with http(server.http) as client:
        cookie = await session_of(client, officer)
        ncb_cookie = await session_of(client, ncb)
        attempts = [
            # Its own session, the token it signed in with, a fresh one without expiry.
            (cookie, f"/v1/tokens/{prefix_of(cookie)}/rotate", {}),
            (cookie, f"/v1/tokens/{prefix_of(officer.token)}/rotate", {}),
            (cookie, f"/v1/principals/{officer.principal_id}/tokens", {"label": "mine"}),
            # An NCB's session, for its staff: the NCB's bearer token could; its session not.
            (ncb_cookie, f"/v1/principals/{officer.principal_id}/tokens", {"label": "x"}),
            (ncb_cookie, f"/v1/tokens/{prefix_of(officer.token)}/rotate", {}),
        ]
        for session, path, body in attempts:
            refused = await client.post(path, json=body, headers=with_session(session))
            assert refused.status_code == 403, (path, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert "dashboard session cannot" in refused.json()["detail"]
            assert "Authorization: Bearer" in refused.json()["detail"]
        # Taken out of the browser and sent as a bearer token, it is still a session.
        as_bearer = await client.post(
            f"/v1/principals/{officer.principal_id}/tokens",
            json={},
            headers={"Authorization": f"Bearer {cookie}"},
        )
        assert as_bearer.status_code == 403, as_bearer.text
    # The two sessions, nothing else; and the token signed in with was not rotated.
    assert await db.fetchval("SELECT count(*) FROM api_tokens") == before + 2
    assert await db.fetchval(
        "SELECT replaced_by IS NULL FROM api_tokens WHERE prefix = $1", prefix_of(officer.token)
    )


async def test_a_session_may_still_take_access_away(server: RunningServer, world: World) -> None:
    """Revoking only narrows access: an NCB at its dashboard may revoke its staff's token."""
    officer = world.desk("DE")
    async with http(server.http) as client:
        cookie = await session_of(client, world("DE", Role.NCB))
        revoked = await client.post(
            f"/v1/tokens/{prefix_of(officer.token)}/revoke", headers=with_session(cookie)
        )
        assert revoked.status_code == 200, revoked.text
        assert (await client.get("/v1/me", headers=officer.headers)).status_code == 401


async def test_a_session_token_is_not_rotated_into_a_free_standing_one(
    server: RunningServer, world: World
) -> None:
    officer = world.desk("DE")
    async with http(server.http) as client:
        cookie = await session_of(client, officer)
        rotated = await client.post(
            f"/v1/tokens/{prefix_of(cookie)}/rotate", json={}, headers=officer.headers
        )
    assert rotated.status_code == 409, rotated.text
    assert "session" in rotated.json()["detail"]


async def test_a_session_s_token_opens_no_other_session(
    server: RunningServer, world: World
) -> None:
    """A session signed in with a session would outlive the first one's sign-out."""
    async with http(server.http) as client:
        cookie = await session_of(client, world.desk("DE"))
        again = await client.post(
            "/web/sign-in", content=f"token={cookie}", headers={**FORM, "Origin": server.http}
        )
        assert again.status_code == 403
        assert "your own token" in again.text
        assert COOKIE not in again.cookies
        who = await client.post(
            "/web/sign-in/identity",
            content=f"token={cookie}",
            headers={**FORM, "Origin": server.http},
        )
        assert who.status_code == 403


async def test_signing_in_again_ends_the_session_it_replaces(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        first = await session_of(client, world.desk("DE"))
        second = await sign_in(client, world.desk("DE"), Cookie=f"{COOKIE}={first}")
        assert second.status_code == 303
        assert second.cookies[COOKIE] != first
        assert (await client.get("/v1/me", headers=with_cookie(first))).status_code == 401


async def test_a_sign_in_link_s_token_is_named_without_opening_a_session(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    officer = world.desk("DE")
    before = await db.fetchval("SELECT count(*) FROM api_tokens")
    async with http(server.http) as client:
        asked = await client.post(
            "/web/sign-in/identity",
            content=f"token={officer.token}",
            headers={**FORM, "Origin": server.http},
        )
        assert asked.status_code == 200, asked.text
        assert asked.headers["cache-control"] == "no-store"
        assert COOKIE not in asked.cookies
        who = asked.json()
        assert (who["role"], who["country"], who["country_name"]) == (
            "contact point",
            "DE",
            await db.fetchval("SELECT name FROM countries WHERE code = 'DE'"),
        )
        assert who["name"] == await db.fetchval(
            "SELECT name FROM principals WHERE id = $1", officer.principal_id
        )
        for token, origin, status in [
            (officer.token, "https://evil.example", 403),
            ("r247_0123456789ab_" + "A" * 43, server.http, 401),
            ("", server.http, 422),
        ]:
            refused = await client.post(
                "/web/sign-in/identity",
                content=f"token={token}",
                headers={**FORM, "Origin": origin},
            )
            assert refused.status_code == status
            assert "detail" in refused.json()
    assert await db.fetchval("SELECT count(*) FROM api_tokens") == before
