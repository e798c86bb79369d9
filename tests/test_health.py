"""Liveness, readiness and the published API description."""

from __future__ import annotations

from tests.clients import http
from tests.conftest import RunningServer


async def test_health_readiness_and_openapi(server: RunningServer) -> None:
    async with http(server.http) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json()["status"] == "ok"
        assert (await client.get("/docs")).status_code == 200
        spec = (await client.get("/openapi.json")).json()
    assert {"/v1/requests", "/v1/requests/{request_id}", "/v1/requests/{request_id}/ack"} <= set(
        spec["paths"]
    )
    submit = spec["paths"]["/v1/requests"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in submit["parameters"])


async def test_unknown_route_is_a_problem(server: RunningServer) -> None:
    async with http(server.http) as client:
        response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
