"""Who may do what, on every endpoint. The table must name every route of the API: a new
endpoint that is not added here fails test_every_endpoint_is_in_the_table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute

from app.main import create_app
from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World, request_body

# Who is asking, in a world where FR's unit has sent a request to DE.
WHO: dict[str, Callable[[World], Party]] = {
    "sender unit (FR)": lambda w: w.unit("FR"),
    "other unit (JP)": lambda w: w.unit("JP"),
    "target country's unit (DE)": lambda w: w.unit("DE"),
    "target desk (DE)": lambda w: w.desk("DE"),
    "target NCB (DE)": lambda w: w("DE", Role.NCB),
    "sender's desk (FR)": lambda w: w.desk("FR"),
    "other desk (JP)": lambda w: w.desk("JP"),
    "other NCB (JP)": lambda w: w("JP", Role.NCB),
    "global desk": lambda w: w.gs,
    "auditor": lambda w: w.auditor,
    "admin": lambda w: w.admin,
}

# (method, path) -> who gets which status. Anyone not listed for an endpoint is refused with
# the status in DEFAULT_REFUSAL.
TABLE: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/v1/requests"): {
        "sender unit (FR)": 201,
        "other unit (JP)": 201,
        "target country's unit (DE)": 201,
    },
    ("GET", "/v1/requests/{request_id}"): {
        "sender unit (FR)": 200,
        "target desk (DE)": 200,
        "target NCB (DE)": 200,
        "global desk": 200,
        "auditor": 200,
    },
    ("POST", "/v1/requests/{request_id}/ack"): {
        "target desk (DE)": 200,
        "target NCB (DE)": 200,
        "global desk": 200,
        "sender unit (FR)": 403,
        "auditor": 403,
    },
    # Lists are filtered, never refused: the column is whether the request is in the list.
    ("GET", "/v1/requests"): {
        "sender unit (FR)": 1,
        "target desk (DE)": 1,
        "target NCB (DE)": 1,
        "global desk": 1,
        "auditor": 1,
    },
}
DEFAULT_REFUSAL = {
    ("POST", "/v1/requests"): 403,
    ("GET", "/v1/requests/{request_id}"): 404,
    ("POST", "/v1/requests/{request_id}/ack"): 404,
    ("GET", "/v1/requests"): 0,
}
# Probes and the scrape endpoint: for the internal network, they show no request data.
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
WEBSOCKETS = {"/v1/ws"}  # covered by test_realtime: each principal's channels


def _walk(routes: list[BaseRoute]) -> list[BaseRoute]:
    """Every route, also those inside included routers."""
    found: list[BaseRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += _walk(inner.routes) if inner is not None else [route]
    return found


def test_every_endpoint_is_in_the_table() -> None:
    app = create_app("postgresql://unused/unused")
    routes = _walk(app.routes)
    endpoints = {
        (method, route.path)
        for route in routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    sockets = {route.path for route in routes if isinstance(route, APIWebSocketRoute)}
    assert endpoints - PUBLIC == set(TABLE)
    assert sockets == WEBSOCKETS


CASES = [(endpoint, who) for endpoint in TABLE for who in WHO]


@pytest.mark.parametrize(("endpoint", "who"), CASES, ids=[f"{m} {p} as {w}" for (m, p), w in CASES])
async def test_access(
    server: RunningServer, world: World, endpoint: tuple[str, str], who: str
) -> None:
    method, path = endpoint
    party = WHO[who](world)
    expected = TABLE[endpoint].get(who, DEFAULT_REFUSAL[endpoint])
    async with http(server.http) as client:
        sent = await client.post(
            "/v1/requests", json=request_body("DE"), headers=world.unit("FR").headers
        )
        request_id = sent.json()["id"]
        url = path.replace("{request_id}", request_id)
        if method == "POST" and path == "/v1/requests":
            target = "DE" if party.country != "DE" else "FR"
            response = await client.post(url, json=request_body(target), headers=party.headers)
        else:
            response = await client.request(method, url, headers=party.headers)
        unauthenticated = await client.request(method, url)

    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    if endpoint == ("GET", "/v1/requests"):
        assert response.status_code == 200
        listed = [item["id"] for item in response.json()["items"]]
        assert listed.count(request_id) == expected, f"{who} listing"
    else:
        assert response.status_code == expected, response.text
        if expected >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"]


async def test_a_revoked_or_forged_token_is_refused(server: RunningServer, world: World) -> None:
    real = world.unit("FR").token
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    async with http(server.http) as client:
        response = await client.get("/v1/requests", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
