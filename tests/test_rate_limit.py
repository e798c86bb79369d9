"""RELAY247_RATE_LIMIT: a principal over its limit gets 429 with Retry-After; others do not."""

from __future__ import annotations

import pydantic
import pytest

from app.api.rate_limit import PrincipalRateLimit
from app.core.settings import OverloadSettings
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World
from tests.scrape import scrape, value


async def test_a_principal_over_its_limit_waits_and_others_are_unaffected(
    server: RunningServer, world: World
) -> None:
    app = server.server.config.app
    app.state.rate_limit = PrincipalRateLimit("3/minute", app.state.metrics)
    unit, desk = world.unit("FR"), world.desk("DE")
    async with http(server.http) as client:
        allowed = [(await client.get("/v1/requests", headers=unit.headers)) for _ in range(3)]
        limited = await client.get("/v1/requests", headers=unit.headers)
        other = await client.get("/v1/requests", headers=desk.headers)
        anonymous = await client.get("/v1/requests")
        text = await scrape(client)

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["type"] == "urn:relay247:problem:rate-limited"
    assert "3 requests per 60 s" in limited.json()["detail"]
    assert other.status_code == 200
    assert anonymous.status_code == 401, "no principal, nothing counted: authentication first"
    assert value(text, "relay247_http_requests_shed_total", reason="rate_limited") == 1
    assert str(unit.principal_id) not in text


async def test_there_is_no_rate_limit_by_default(server: RunningServer, world: World) -> None:
    assert OverloadSettings().rate_limit is None
    assert server.server.config.app.state.rate_limit is None
    async with http(server.http) as client:
        statuses = {
            (await client.get("/v1/requests", headers=world.unit("FR").headers)).status_code
            for _ in range(30)
        }
    assert statuses == {200}


def test_a_malformed_limit_is_refused_at_start() -> None:
    with pytest.raises(pydantic.ValidationError, match="couldn't parse rate limit"):
        OverloadSettings(rate_limit="lots")
    assert OverloadSettings(rate_limit="").rate_limit is None
    assert OverloadSettings(rate_limit="20/second;600/minute").rate_limit
