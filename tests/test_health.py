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


async def test_openapi_documents_every_problem_as_problem_json(server: RunningServer) -> None:
    async with http(server.http) as client:
        spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])
    assert "errors" in schemas["Problem"]["properties"]
    assert "HTTPValidationError" not in schemas
    expected = {
        ("post", "/v1/requests"): {"401", "403", "408", "409", "413", "422", "429", "503"},
        ("get", "/v1/requests"): {"401", "422", "429", "503"},
        ("get", "/v1/requests/{request_id}"): {"401", "404", "422", "429", "503"},
        ("post", "/v1/requests/{request_id}/ack"): {
            "401",
            "403",
            "404",
            "409",
            "422",
            "429",
            "503",
        },
        ("get", "/readyz"): {"503"},
    }
    for (method, path), statuses in expected.items():
        responses = spec["paths"][path][method]["responses"]
        problems = {code for code in responses if code >= "400"}
        assert problems == statuses, (method, path)
        for code in problems:
            assert set(responses[code]["content"]) == {"application/problem+json"}, (path, code)
    for code in ("429", "503"):
        headers = spec["paths"]["/v1/requests"]["get"]["responses"][code]["headers"]
        assert "Retry-After" in headers
