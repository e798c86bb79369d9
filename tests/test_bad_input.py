"""Malformed input gets a 4xx problem that says what is wrong, never a 500, and writes nothing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World, request_body

NUL = "\u0000"
LONE_SURROGATE = "\ud800"  # JSON's escape can carry it; UTF-8 cannot encode it


def cursor(payload: Any) -> str:
    """A cursor as the service spells them (base64url of JSON), around a forged payload."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


SOME_ID = "0b9d1f06-4a57-4b5f-8d5e-1c2b3a4d5e6f"

BAD_BODIES: list[tuple[str, Any, int, str]] = [
    # (case, body, status, a word the problem must contain)
    ("unknown country", request_body("ZZ"), 422, "not a country of the network"),
    ("own country", request_body("FR"), 422, "your own country"),
    ("lower-case country", request_body("de"), 422, "target_country"),
    ("bad type", request_body(type="wiretap"), 422, "type"),
    ("bad priority", request_body(priority="asap"), 422, "priority"),
    ("bad handling code", request_body(handling_code="amber"), 422, "handling_code"),
    (
        "missing subject",
        {k: v for k, v in request_body().items() if k != "subject"},
        422,
        "subject",
    ),
    ("blank subject", request_body(subject="   "), 422, "subject"),
    ("subject too long", request_body(subject="x" * 301), 422, "subject"),
    ("details too long", request_body(details="x" * 20_001), 422, "details"),
    ("unknown field", request_body(urgency="high"), 422, "urgency"),
    ("bad IP", request_body(identifiers=[{"kind": "ip", "value": "999.1.1.1"}]), 422, "IPv4"),
    ("bad hash", request_body(identifiers=[{"kind": "hash", "value": "xyz"}]), 422, "digest"),
    ("bad email", request_body(identifiers=[{"kind": "email", "value": "nobody"}]), 422, "e-mail"),
    ("bad identifier kind", request_body(identifiers=[{"kind": "ssn", "value": "1"}]), 422, "kind"),
    ("identifiers not a list", request_body(identifiers="1.2.3.4"), 422, "identifiers"),
    ("bad onward use", request_body(onward_use=["H9"]), 422, "onward_use"),
    ("repeated onward use", request_body(onward_use=["H1", "H1"]), 422, "more than once"),
    ("array body", [request_body()], 422, "body"),
    ("null body", None, 422, "body"),
    ("oversized body", request_body(details="x" * 300_000), 413, "larger than"),
    ("NUL in subject", request_body(subject=f"Preserve{NUL}"), 422, "subject: contains a NUL"),
    ("NUL in details", request_body(details=f"{NUL}details"), 422, "details: contains a NUL"),
    ("NUL in legal basis", request_body(legal_basis=f"Art.{NUL}29"), 422, "legal_basis: contains"),
    (
        "NUL in identifier value",
        request_body(identifiers=[{"kind": "account", "value": f"user{NUL}"}]),
        422,
        "identifiers[0].value: contains a NUL",
    ),
    ("NUL in target country", request_body(f"D{NUL}"), 422, "target_country"),
    (
        "lone surrogate in details",
        request_body(details=f"text {LONE_SURROGATE} text"),
        422,
        "details: Input should be a valid string",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "says"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
async def test_bad_request_body(
    server: RunningServer, world: World, case: str, body: Any, status: int, says: str
) -> None:
    async with http(server.http) as client:
        response = await post_json(client, body, world)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert says in problem["detail"], problem


async def post_json(client: httpx.AsyncClient, body: Any, world: World) -> httpx.Response:
    # json.dumps escapes every non-ASCII character, so NULs and lone surrogates arrive as the
    # JSON escapes a client would send (httpx's own encoder cannot encode a lone surrogate).
    return await client.post(
        "/v1/requests",
        content=json.dumps(body),
        headers={**world.unit("FR").headers, "Content-Type": "application/json"},
    )


async def chunks(total: int, size: int = 16_384) -> AsyncIterator[bytes]:
    """A body sent without Content-Length (chunked), as a streaming client sends it."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def listing(**params: str) -> dict[str, Any]:
    return {"params": params}


BAD_CALLS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (case, method, url, extra, status, a phrase the problem's detail must contain)
    ("not JSON", "POST", "/v1/requests", {"content": b"{not json"}, 422, "JSON"),
    ("bad request id", "GET", "/v1/requests/42", {}, 422, "request_id"),
    ("bad ack id", "POST", "/v1/requests/not-a-uuid/ack", {}, 422, "request_id"),
    ("limit zero", "GET", "/v1/requests", listing(limit="0"), 422, "limit"),
    ("limit too big", "GET", "/v1/requests", listing(limit="100000"), 422, "limit"),
    ("bad status filter", "GET", "/v1/requests", listing(status="lost"), 422, "status"),
    ("bad date filter", "GET", "/v1/requests", listing(created_after="yesterday"), 422, "created"),
    (
        "time filter in year 1 east of UTC",
        "GET",
        "/v1/requests",
        listing(created_after="0001-01-01T00:00:00+14:00"),
        422,
        "created_after: is outside the times that can be represented",
    ),
    (
        "time filter in year 9999 west of UTC",
        "GET",
        "/v1/requests",
        listing(created_before="9999-12-31T23:59:59-14:00"),
        422,
        "created_before: is outside the times that can be represented",
    ),
    (
        "time filter without offset",
        "GET",
        "/v1/requests",
        listing(created_after="2026-01-01T00:00:00"),
        422,
        "created_after: needs a UTC offset",
    ),
    ("NUL in country filter", "GET", "/v1/requests", listing(target_country="D\0"), 422, "target"),
    ("forged cursor", "GET", "/v1/requests", listing(cursor="bm90IGEgY3Vyc29y"), 422, "cursor"),
    ("cursor not base64", "GET", "/v1/requests", listing(cursor="!!!"), 422, "cursor"),
    ("cursor not ASCII", "GET", "/v1/requests", listing(cursor="\u00e9t\u00e9"), 422, "cursor"),
    ("cursor with NUL", "GET", "/v1/requests", listing(cursor="ab\0"), 422, "cursor"),
    ("huge cursor", "GET", "/v1/requests", listing(cursor="A" * 5000), 422, "cursor"),
    (
        "cursor of bytes not UTF-8",
        "GET",
        "/v1/requests",
        listing(cursor=base64.urlsafe_b64encode(b"\xff\xfe\x00").decode()),
        422,
        "cursor",
    ),
    ("cursor of a JSON list", "GET", "/v1/requests", listing(cursor=cursor([1, 2])), 422, "cursor"),
    (
        "cursor with a number for id",
        "GET",
        "/v1/requests",
        listing(cursor=cursor({"t": "2026-01-01T00:00:00+00:00", "i": 42})),
        422,
        "cursor",
    ),
    (
        "cursor with a list for id",
        "GET",
        "/v1/requests",
        listing(cursor=cursor({"t": "2026-01-01T00:00:00+00:00", "i": [1]})),
        422,
        "cursor",
    ),
    (
        "cursor with a number for time",
        "GET",
        "/v1/requests",
        listing(cursor=cursor({"t": 0, "i": SOME_ID})),
        422,
        "cursor",
    ),
    (
        "cursor time in year 1 east of UTC",
        "GET",
        "/v1/requests",
        listing(cursor=cursor({"t": "0001-01-01T00:00:00+14:00", "i": SOME_ID})),
        422,
        "cursor",
    ),
    (
        "cursor time in year 9999 west of UTC",
        "GET",
        "/v1/requests",
        listing(cursor=cursor({"t": "9999-12-31T23:59:59-14:00", "i": SOME_ID})),
        422,
        "cursor",
    ),
    (
        "cursor time without offset",
        "GET",
        "/v1/requests",
        listing(cursor=cursor({"t": "2026-01-01T00:00:00", "i": SOME_ID})),
        422,
        "cursor",
    ),
    ("idempotency key too long", "POST", "/v1/requests", {"key": "k" * 300}, 422, "Idempotency"),
    ("idempotency key with a space", "POST", "/v1/requests", {"key": "a b"}, 422, "Idempotency"),
    (
        "idempotency key not ASCII",
        "POST",
        "/v1/requests",
        {"key": "cl\u00e9".encode()},
        422,
        "Idempotency",
    ),
    (
        "chunked body over the limit",
        "POST",
        "/v1/requests",
        {"content": lambda: chunks(300_000)},
        413,
        "larger than",
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "url", "extra", "status", "says"),
    BAD_CALLS,
    ids=[c[0] for c in BAD_CALLS],
)
async def test_bad_call(
    server: RunningServer,
    world: World,
    case: str,
    method: str,
    url: str,
    extra: dict[str, Any],
    status: int,
    says: str,
) -> None:
    async with http(server.http) as client:
        response = await bad_call(client, world, method, url, extra)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"], response.json()


async def bad_call(
    client: httpx.AsyncClient, world: World, method: str, url: str, extra: dict[str, Any]
) -> httpx.Response:
    headers = dict(world.unit("FR").headers)
    kwargs: dict[str, Any] = {"params": extra.get("params")}
    if "content" in extra:
        content = extra["content"]
        kwargs["content"] = content() if callable(content) else content
        headers["Content-Type"] = "application/json"
    elif method == "POST" and url == "/v1/requests":
        kwargs["json"] = request_body()
    if "key" in extra:
        headers["Idempotency-Key"] = extra["key"]
    return await client.request(method, url, headers=headers, **kwargs)


async def test_idempotency_key_with_a_nul_is_a_clean_4xx(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    # No HTTP client library sends a NUL in a header: write the request by hand.
    body = json.dumps(request_body()).encode()
    port = int(server.http.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {world.unit('FR').token}\r\n".encode()
        + b"Idempotency-Key: key\x00with-nul\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer
    assert await db.fetchval("SELECT count(*) FROM requests") == 0


async def test_bad_input_writes_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    # Making the world wrote audit entries of its own (agencies, principals, tokens).
    audited_before = await db.fetchval("SELECT count(*) FROM audit_entries")
    async with http(server.http) as client:
        for _, body, _, _ in BAD_BODIES:
            await post_json(client, body, world)
        for _, method, url, extra, _, _ in BAD_CALLS:
            await bad_call(client, world, method, url, extra)
    for table in ("requests", "events", "idempotency_keys"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    assert await db.fetchval("SELECT count(*) FROM audit_entries") == audited_before
