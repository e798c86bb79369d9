"""The client address in the audit trail: the peer's own unless a trusted proxy forwarded it,
and never a reason to fail a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from app.core.serving import uvicorn_options
from app.core.settings import ApiSettings, realtime_settings
from app.main import create_app
from tests.clients import http
from tests.conftest import RunningServer, serving_app
from tests.factories import World, request_body


@asynccontextmanager
async def behind_proxy(database_url: str) -> AsyncIterator[RunningServer]:
    """The service with the loopback address (where the test client is) as a trusted proxy."""
    trusting = ApiSettings.model_validate({"trusted_proxies": ["127.0.0.1"]})
    async with serving_app(create_app(database_url), api=trusting) as running:
        yield running


async def submitted_from(
    server: RunningServer, world: World, db: asyncpg.Connection, forwarded_for: str
) -> str | None:
    """Submit with an X-Forwarded-For header; the address its audit entry recorded."""
    async with http(server.http) as client:
        response = await client.post(
            "/v1/requests",
            json=request_body(),
            headers={**world.unit("FR").headers, "X-Forwarded-For": forwarded_for},
        )
    assert response.status_code == 201, response.text
    address: str | None = await db.fetchval(
        "SELECT host(remote_addr) FROM audit_entries WHERE object_id = $1", response.json()["id"]
    )
    return address


@pytest.mark.parametrize(
    "forwarded", ["203.0.113.9", "not-an-ip", "300.1.1.1", "fe80::1%eth0", ","]
)
async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    server: RunningServer, world: World, db: asyncpg.Connection, forwarded: str
) -> None:
    assert await submitted_from(server, world, db, forwarded) == "127.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "recorded"),
    [
        ("203.0.113.9", "203.0.113.9"),
        # A chain: the client is the last address that is not itself a trusted proxy.
        ("198.51.100.4, 127.0.0.1", "198.51.100.4"),
        # Garbage from a (misconfigured) trusted proxy: the entry is written, address unknown.
        ("not-an-ip", None),
        ("300.1.1.1", None),
        ("<script>", None),
        # Postgres INET has no zone index; the address is kept without it.
        ("fe80::1%eth0", "fe80::1"),
    ],
)
async def test_forwarded_for_from_a_trusted_proxy_is_the_client(
    database_url: str, world: World, db: asyncpg.Connection, forwarded: str, recorded: str | None
) -> None:
    async with behind_proxy(database_url) as server:
        assert await submitted_from(server, world, db, forwarded) == recorded


def test_trusted_proxies_setting_decides_the_uvicorn_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = uvicorn_options(api=ApiSettings(), realtime=realtime_settings())
    assert options["proxy_headers"] is False
    monkeypatch.setenv("RELAY247_TRUSTED_PROXIES", '["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]')
    options = uvicorn_options(api=ApiSettings(), realtime=realtime_settings())
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]
