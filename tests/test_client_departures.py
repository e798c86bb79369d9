"""Clients that leave, or never quite arrive, are neither a failure nor a cost: a connection
that sends no complete request head is closed after RELAY247_HEADER_TIMEOUT (app/core/serving.py),
a client gone mid-body is recorded as 499 with no ERROR (app/api/problems.py), and a download
the service cut off leaves no ERROR from uvicorn either."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from app.core.settings import ApiSettings
from app.main import create_app
from tests.clients import http, submit_request
from tests.conftest import RunningServer, serving_app
from tests.factories import World
from tests.scrape import samples, scrape, value
from tests.test_server_stalls import HEAD, answer
from tests.test_slow_clients import (
    BODY_TIMEOUT,
    SIGN_IN,
    in_flight,
    limits,
    slots_given_back,
    slow_body,
    unread_download,
)
from tests.waiting import eventually


async def test_a_connection_must_send_its_request_head_in_time(database_url: str) -> None:
    api = ApiSettings(header_timeout=timedelta(seconds=0.5))
    async with serving_app(create_app(database_url), api=api) as running:
        port = int(running.http.rsplit(":", 1)[1])
        idle = await asyncio.open_connection("127.0.0.1", port)
        partial = await asyncio.open_connection("127.0.0.1", port)
        kept = await asyncio.open_connection("127.0.0.1", port)
        try:
            partial[1].write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            # A head sent in time is answered, and the connection is kept for the next one.
            kept[1].write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            async with asyncio.timeout(5):
                assert (await kept[0].readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
                # Closed unanswered: the end of the stream, with nothing before it.
                assert await idle[0].read() == b""
                assert await partial[0].read() == b""
        finally:
            for _, writer in (idle, partial, kept):
                writer.close()


async def test_empty_lines_after_an_answer_do_not_keep_a_connection(database_url: str) -> None:
    """Empty lines may come before a request (RFC 9112, 2.2) and begin none, yet they stop
    the wait between requests: the head's bound starts with them."""
    api = ApiSettings(header_timeout=timedelta(seconds=0.5))
    async with serving_app(create_app(database_url), api=api) as running:
        port = int(running.http.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(HEAD)
            assert await answer(reader) == b"HTTP/1.1 200 OK"
            writer.write(b"\r\n")
            async with asyncio.timeout(30):  # a guard against a hang, not a timing
                assert await reader.read() == b""
        finally:
            writer.close()


@pytest.fixture
def errors() -> Iterator[list[logging.LogRecord]]:
    """Records above INFO from the service's and uvicorn's loggers (uvicorn's do not reach
    the root logger)."""
    found: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = found.append  # type: ignore[method-assign]
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield found
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("path", "cookie"),
    [
        (SIGN_IN, None),
        (f"{SIGN_IN}/identity", None),
        # Stale: the page is served as to anyone, and reads the form for its CSRF field.
        ("/web/sign-out", "relay247_session=stale"),
    ],
)
async def test_a_client_leaving_mid_body_is_no_failure(
    server: RunningServer, errors: list[logging.LogRecord], path: str, cookie: str | None
) -> None:
    limits(server, body_timeout=30)
    form = {"content_type": "application/x-www-form-urlencoded"}
    async with http(server.http) as client:
        attacker = await slow_body(server, path, chunked=False, cookie=cookie, **form)

        async def reading() -> bool:
            return await in_flight(client) == 1

        await eventually(reading, within=5)
        attacker.close()
        await slots_given_back(client)
        metrics = await scrape(client)
    statuses = [labels["status"] for labels, _ in samples(metrics, "relay247_http_requests_total")]
    assert "500" not in statuses
    assert "499" in statuses
    assert [record.getMessage() for record in errors] == []


async def test_a_download_cut_off_logs_no_error(
    server: RunningServer, world: World, errors: list[logging.LogRecord]
) -> None:
    server.app.state.file_send_timeout = BODY_TIMEOUT
    unit = world.unit("FR")
    async with http(server.http) as client:
        request = await submit_request(client, unit)
        created = await client.post(
            f"/v1/requests/{request['id']}/files",
            params={"name": "large.bin"},
            content=b"z" * 8 * 1024 * 1024,
            headers=unit.headers,
        )
        assert created.status_code == 201, created.text
        _, writer = await unread_download(server, unit, created.json()["id"])
        try:

            async def cut_off() -> bool:
                metrics = await scrape(client)
                return value(metrics, "relay247_file_downloads_stalled_total") == 1

            await eventually(cut_off, within=15)
            await slots_given_back(client)
        finally:
            writer.close()
    assert [r.getMessage() for r in errors if r.levelno >= logging.ERROR] == []
