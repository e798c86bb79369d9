"""Malformed input gets a 4xx problem that says what is wrong, never a 500, and writes nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World, request_body

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
]


@pytest.mark.parametrize(
    ("case", "body", "status", "says"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
async def test_bad_request_body(
    server: RunningServer, world: World, case: str, body: Any, status: int, says: str
) -> None:
    async with http(server.http) as client:
        response = await client.post("/v1/requests", json=body, headers=world.unit("FR").headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert says in problem["detail"], problem


BAD_CALLS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("not JSON", "POST", "/v1/requests", {"content": b"{not json", "ct": "application/json"}),
    ("bad request id", "GET", "/v1/requests/42", {}),
    ("bad ack id", "POST", "/v1/requests/not-a-uuid/ack", {}),
    ("limit zero", "GET", "/v1/requests?limit=0", {}),
    ("limit too big", "GET", "/v1/requests?limit=100000", {}),
    ("forged cursor", "GET", "/v1/requests?cursor=bm90IGEgY3Vyc29y", {}),
    ("bad status filter", "GET", "/v1/requests?status=lost", {}),
    ("bad date filter", "GET", "/v1/requests?created_after=yesterday", {}),
    ("idempotency key too long", "POST", "/v1/requests", {"key": "k" * 300}),
]


@pytest.mark.parametrize(
    ("case", "method", "url", "extra"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
async def test_bad_call(
    server: RunningServer, world: World, case: str, method: str, url: str, extra: dict[str, Any]
) -> None:
    headers = dict(world.unit("FR").headers)
    kwargs: dict[str, Any] = {}
    if "content" in extra:
        kwargs["content"] = extra["content"]
        headers["Content-Type"] = extra["ct"]
    elif method == "POST" and url == "/v1/requests":
        kwargs["json"] = request_body()
    if "key" in extra:
        headers["Idempotency-Key"] = extra["key"]
    async with http(server.http) as client:
        response = await client.request(method, url, headers=headers, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


async def test_bad_input_writes_nothing(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        for _, body, _, _ in BAD_BODIES:
            await client.post("/v1/requests", json=body, headers=world.unit("FR").headers)
    for table in ("requests", "events", "audit_entries", "idempotency_keys"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
