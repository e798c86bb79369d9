"""A credential's end wins its races: no web session outlives a revocation, rotation or
disabling of the token it is signed in with that raced its sign-in, and no write commits on a
token revoked, or a session signed out, while the write's body was arriving (the caller is
admitted before its body, app/api/admission.py; the write holds its token, app/
auth.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
import pytest

from app.api.admission import AdmissionLimits
from app.identity.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, csrf_token
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.test_slow_clients import SlowClient
from tests.waiting import eventually

TRIES = 30
FORM = "application/x-www-form-urlencoded"


def prefix_of(token: str) -> str:
    return token.split("_")[1]


async def fresh_token(client: httpx.AsyncClient, party: Party, by: Party) -> str:
    made = await client.post(
        f"/v1/principals/{party.principal_id}/tokens", json={}, headers=by.headers
    )
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


async def sign_in(client: httpx.AsyncClient, token: str) -> str | None:
    """The session cookie a sign-in with ``token`` got, or None if it was refused."""
    answer = await client.post(
        "/web/sign-in",
        content=f"token={token}",
        headers={"Content-Type": FORM, "Origin": str(client.base_url).rstrip("/")},
    )
    assert answer.status_code in (303, 401), answer.text
    cookie = answer.cookies.get(COOKIE) if answer.status_code == 303 else None
    client.cookies.clear()
    return cookie


def room_for_sign_ins(server: RunningServer) -> None:
    """Sign-ins are anonymous: let ``TRIES`` of them in at once from the one test address,
    and ``TRIES`` ends of tokens from the one principal ending them."""
    limits: AdmissionLimits = server.app.state.admission
    limits.max_anonymous = limits.max_anonymous_per_peer = limits.max_per_principal = TRIES
    server.app.state.max_in_flight = 3 * TRIES


async def race(
    server: RunningServer, world: World, db: asyncpg.Connection, end: str, body: dict[str, Any]
) -> None:
    """``TRIES`` times at once: a fresh token's sign-in against its end (``end``: revoke or
    rotate); whenever the end was answered, no session of the token works or is left active."""
    room_for_sign_ins(server)
    desk, gs = world.desk("DE"), world.gs
    async with http(server.http) as client:
        minted = [await fresh_token(client, desk, gs) for _ in range(TRIES)]

        async def one(token: str) -> tuple[str, str | None, int]:
            # Separate clients: each request on a connection of its own, truly concurrent.
            async with http(server.http) as signer, http(server.http) as ender:
                cookie, ended = await asyncio.gather(
                    sign_in(signer, token),
                    ender.post(
                        f"/v1/tokens/{prefix_of(token)}/{end}", json=body, headers=gs.headers
                    ),
                )
            return token, cookie, ended.status_code

        results = await asyncio.gather(*(one(token) for token in minted))
        for token, cookie, status in results:
            assert status in (200, 201), status
            assert (await client.get("/v1/me", headers=_bearer(token))).status_code == 401
            if cookie is not None:
                me = await client.get("/v1/me", headers={"Cookie": f"{COOKIE}={cookie}"})
                assert me.status_code == 401, f"a session outlived the {end} of its token"
    left = await db.fetchval(
        """SELECT count(*) FROM api_tokens s JOIN api_tokens t ON s.signed_in_with = t.id
           WHERE t.prefix = ANY($1::text[]) AND s.revoked_at IS NULL
             AND (s.expires_at IS NULL OR s.expires_at > now())""",
        [prefix_of(token) for token in minted],
    )
    assert left == 0


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
async def test_no_session_survives_a_revocation_that_raced_its_sign_in(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    await race(server, world, db, "revoke", {})


@pytest.mark.slow
async def test_no_session_survives_a_rotation_without_overlap_that_raced_its_sign_in(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    await race(server, world, db, "rotate", {"overlap_seconds": 0})


async def test_no_session_survives_its_principal_disabled_during_its_sign_in(
    server: RunningServer, world: World
) -> None:
    """Disabling locks the principal FOR UPDATE, a sign-in holds it FOR SHARE: whichever
    comes second sees the first."""
    room_for_sign_ins(server)
    desk, gs = world.desk("DE"), world.gs
    async with http(server.http) as client:
        minted = [await fresh_token(client, desk, gs) for _ in range(TRIES)]

        async def signed_in(token: str) -> str | None:
            async with http(server.http) as signer:
                return await sign_in(signer, token)

        async def disable() -> None:
            async with http(server.http) as ender:
                path = f"/v1/principals/{desk.principal_id}/disable"
                disabled = await ender.post(path, headers=gs.headers)
                assert disabled.status_code == 200, disabled.text

        *cookies, _ = await asyncio.gather(*(signed_in(token) for token in minted), disable())
        for cookie in cookies:
            if cookie is not None:
                me = await client.get("/v1/me", headers={"Cookie": f"{COOKIE}={cookie}"})
                assert me.status_code == 401, "a session outlived its principal's disabling"


# --- a credential ended while a write's body arrives ----------------------------------------


async def half_sent(server: RunningServer, head: str, start: bytes) -> SlowClient:
    """A connection that sent a request's head and the start of its body."""
    port = int(server.http.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + start)
    await writer.drain()
    return SlowClient(reader, writer)


def message_head(request_id: str, length: int, credential: str) -> str:
    return (
        f"POST /v1/requests/{request_id}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n{credential}"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    )


async def refused_when_finished(slow: SlowClient, rest: bytes) -> None:
    try:
        slow.writer.write(rest)
        await slow.writer.drain()
        status, _, body = await slow.answer()
    finally:
        slow.close()
    assert status == 401, body
    assert json.loads(body)["type"] == "urn:relay247:problem:unauthenticated"


async def no_messages(db: asyncpg.Connection, request_id: str) -> None:
    count = await db.fetchval(
        "SELECT count(*) FROM messages WHERE request_id = $1::uuid", request_id
    )
    assert count == 0


async def stops_working(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    async def refused() -> bool:
        return (await client.get("/v1/me", headers=headers)).status_code == 401

    await eventually(refused, within=5)


async def test_a_message_whose_token_is_revoked_while_its_body_arrives_is_refused(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    unit, gs = world.unit("FR"), world.gs
    async with http(server.http) as client:
        token = await fresh_token(client, unit, gs)
        request = await submit_request(client, unit)
        body = json.dumps({"text": "written after the revocation"}).encode()
        head = message_head(request["id"], len(body), f"Authorization: Bearer {token}\r\n")
        slow = await half_sent(server, head, body[:3])
        revoked = await client.post(f"/v1/tokens/{prefix_of(token)}/revoke", headers=gs.headers)
        assert revoked.status_code == 200, revoked.text
        await stops_working(client, _bearer(token))
        await refused_when_finished(slow, body[3:])
    await no_messages(db, request["id"])


async def test_a_message_from_a_session_signed_out_while_its_body_arrives_is_refused(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        request = await submit_request(client, unit)
        cookie = await sign_in(client, unit.token)
        assert cookie is not None
        body = json.dumps({"text": "written after the sign-out"}).encode()
        credential = f"Cookie: {COOKIE}={cookie}\r\n{CSRF_HEADER}: {csrf_token(cookie)}\r\n"
        slow = await half_sent(server, message_head(request["id"], len(body), credential), b"{")
        out = await client.post(
            "/web/sign-out",
            content=f"{CSRF_FIELD}={csrf_token(cookie)}",
            headers={
                "Content-Type": FORM,
                "Origin": str(client.base_url).rstrip("/"),
                "Cookie": f"{COOKIE}={cookie}",
            },
        )
        assert out.status_code in (303, 307), out.text
        client.cookies.clear()
        await stops_working(client, {"Cookie": f"{COOKIE}={cookie}"})
        await refused_when_finished(slow, body[1:])
    await no_messages(db, request["id"])


async def test_an_upload_whose_token_is_revoked_while_it_trickles_in_stores_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    unit, gs = world.unit("FR"), world.gs
    async with http(server.http) as client:
        token = await fresh_token(client, unit, gs)
        request = await submit_request(client, unit)
        chunks = await db.fetchval("SELECT count(*) FROM blob_chunks")
        head = (
            f"POST /v1/requests/{request['id']}/files?name=late.bin HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n"
        )
        slow = await half_sent(server, head, b"400\r\n" + b"x" * 0x400 + b"\r\n")
        revoked = await client.post(f"/v1/tokens/{prefix_of(token)}/revoke", headers=gs.headers)
        assert revoked.status_code == 200, revoked.text
        await stops_working(client, _bearer(token))
        # More of the body after the revocation, then its end.
        await refused_when_finished(slow, b"400\r\n" + b"y" * 0x400 + b"\r\n0\r\n\r\n")
        files = await client.get(f"/v1/requests/{request['id']}/files", headers=unit.headers)
        assert files.json()["items"] == []
    assert await db.fetchval("SELECT count(*) FROM blob_chunks") == chunks


async def test_two_revocations_of_one_s_own_token_at_once_are_never_a_500(
    server: RunningServer, world: World
) -> None:
    """Each holds the token FOR SHARE, then wants it FOR UPDATE: Postgres ends one of the two
    (a deadlock), which is answered as the conflict it is, nothing changed."""
    unit, gs = world.unit("FR"), world.gs
    async with http(server.http) as client:
        for _ in range(5):
            token = await fresh_token(client, unit, gs)
            path = f"/v1/tokens/{prefix_of(token)}/revoke"
            async with http(server.http) as one, http(server.http) as other:
                answers = await asyncio.gather(
                    one.post(path, headers=_bearer(token)), other.post(path, headers=_bearer(token))
                )
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses in ([200, 200], [200, 401], [200, 409]), [a.text for a in answers]
