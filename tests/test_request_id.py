"""X-Request-Id on every response, and on the log lines of the request, in both formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.clients import http
from tests.conftest import RunningServer, free_port
from tests.factories import World, request_body
from tests.faults import inserts_refused
from tests.processes import environment, serving

GENERATED = re.compile(r"[0-9a-f]{32}")


async def test_a_safe_id_is_echoed_and_anything_else_replaced(server: RunningServer) -> None:
    async with http(server.http) as client:
        given = await client.get("/healthz", headers={"X-Request-Id": "case-42.A_b"})
        assert given.headers["X-Request-Id"] == "case-42.A_b"
        longest = "x" * 64
        assert (await client.get("/healthz", headers={"X-Request-Id": longest})).headers[
            "X-Request-Id"
        ] == longest
        for hostile in ("x" * 65, "<script>", "id with spaces", "a;b", "r247_1_x=y", ""):
            response = await client.get("/healthz", headers={"X-Request-Id": hostile})
            assert GENERATED.fullmatch(response.headers["X-Request-Id"]), hostile
        ids = {(await client.get("/healthz")).headers["X-Request-Id"] for _ in range(2)}
    assert len(ids) == 2
    assert all(GENERATED.fullmatch(i) for i in ids)


async def test_problems_carry_the_id_even_an_unexpected_500(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        unknown = await client.get("/v1/nothing", headers={"X-Request-Id": "r-404"})
        unauthenticated = await client.get("/v1/requests", headers={"X-Request-Id": "r-401"})
        invalid = await client.post(
            "/v1/requests", json={}, headers={**world.unit("FR").headers, "X-Request-Id": "r-422"}
        )
        async with inserts_refused(db, "events"):
            failed = await client.post(
                "/v1/requests",
                json=request_body(),
                headers={**world.unit("FR").headers, "X-Request-Id": "r-500"},
            )
    for response, status in ((unknown, 404), (unauthenticated, 401), (invalid, 422), (failed, 500)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["X-Request-Id"] == f"r-{status}"


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_log_lines_carry_the_request_id_and_no_token(
    database_url: str, world: World, tmp_path: Path, log_format: str
) -> None:
    log = tmp_path / "server.log"
    env = environment(DATABASE_URL=database_url, RELAY247_LOG_FORMAT=log_format)
    token = world.unit("FR").token
    async with serving(free_port(), env, log=log) as base, httpx.AsyncClient(base_url=base) as c:
        await c.get("/readyz", headers={"X-Request-Id": "trace-me-7"})
        # A client that wrongly puts its token in a URL: the access line must not show it.
        await c.get(f"/healthz?token={token}", headers={"X-Request-Id": "trace-me-8"})
        await c.post("/v1/requests", json=request_body(), headers=world.unit("FR").headers)
    written = log.read_text()
    assert token not in written
    assert token.rsplit("_", 1)[1] not in written
    assert request_body()["subject"] not in written
    lines = [line for line in written.splitlines() if line.strip()]
    if log_format == "text":
        assert any("[trace-me-7]" in line and "GET /readyz" in line for line in lines)
        return
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)
    readyz = [r for r in records if r["request_id"] == "trace-me-7"]
    assert readyz
    assert readyz[0]["logger"] == "uvicorn.access"
    assert "GET /readyz" in readyz[0]["message"]
    healthz = next(r for r in records if r["request_id"] == "trace-me-8")
    assert "token=[redacted]" in healthz["message"]
    assert any(r["logger"] == "uvicorn.error" and r["request_id"] == "-" for r in records)
