"""Authenticating a socket: whatever the client sends, and whatever fails on the server, the
socket is closed with a code that says what happened (1008 the credentials, 1011/1013 the
service), never dropped (1006), and the token never reaches the log."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.identity.auth import new_token
from tests.clients import close_of
from tests.conftest import RunningServer
from tests.factories import World

WELL_FORMED_UNKNOWN = "r247_0123456789ab_" + "A" * 43


def auth_frame(token: str) -> str:
    return json.dumps({"type": "auth", "token": token})  # escapes NULs as \u0000


MALFORMED = [
    "r247_ZZZZZZZZZZZZ_" + "A" * 43,  # prefix not hex
    "r247_0123456789AB_" + "A" * 43,  # prefix not lower-case hex
    "r247_0123456789a_" + "A" * 43,  # prefix too short
    "r247_0123456789ab_" + "A" * 42,  # secret too short
    "r247_0123456789ab_" + "A" * 44,  # secret too long
    "r247_0123456789ab_" + "A" * 42 + "=",  # not URL-safe base64
    "r247_0123456789ab_" + "A" * 42 + "\n",
    "x247_0123456789ab_" + "A" * 43,
    "r247_nope_nope",
    "r247__",
]


@pytest.mark.parametrize("token", [t for t in MALFORMED if "\n" not in t])  # headers can't
async def test_malformed_token_in_header_is_refused_before_any_query(
    server: RunningServer, token: str
) -> None:
    code, reason = await close_of(server.ws, headers={"Authorization": f"Bearer {token}"})
    assert (code, "malformed" in reason) == (1008, True), reason


@pytest.mark.parametrize(
    "token",
    [
        *MALFORMED,
        "r247_0123456789ab_" + "A" * 42 + "\x00",
        "r247_\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00_" + "A" * 43,
        "r247_0123456789ab_" + "\u00e9" * 43,
        "r247_" + "\u0661" * 12 + "_" + "A" * 43,  # Arabic-Indic digits are not hex digits
    ],
)
async def test_malformed_token_in_auth_frame_is_refused_before_any_query(
    server: RunningServer, token: str
) -> None:
    code, reason = await close_of(server.ws, frame=auth_frame(token))
    assert (code, "malformed" in reason) == (1008, True), reason


async def test_well_formed_unknown_token_is_refused(server: RunningServer) -> None:
    for frame, headers in (
        (None, {"Authorization": f"Bearer {WELL_FORMED_UNKNOWN}"}),
        (auth_frame(WELL_FORMED_UNKNOWN), None),
    ):
        code, reason = await close_of(server.ws, headers=headers, frame=frame)
        assert (code, "unknown" in reason) == (1008, True), reason


def test_new_tokens_have_the_shape_that_is_checked() -> None:
    for _ in range(200):  # secrets vary: '-' and '_' in the URL-safe part must pass too
        token = new_token()
        assert len(token.token) == len(WELL_FORMED_UNKNOWN)
        assert token.token.split("_", 2)[1] == token.prefix


@pytest.fixture
async def broken_token_table(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Token lookups fail on the server (as after a botched migration)."""
    await db.execute("ALTER TABLE api_tokens RENAME COLUMN prefix TO prefix_gone")
    try:
        yield
    finally:
        await db.execute("ALTER TABLE api_tokens RENAME COLUMN prefix_gone TO prefix")


async def test_a_server_fault_closes_with_1011_and_logs_no_token(
    server: RunningServer,
    world: World,
    broken_token_table: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = world.desk("DE").token
    with caplog.at_level(logging.DEBUG):
        code, _ = await close_of(server.ws, headers={"Authorization": f"Bearer {token}"})
        frame_code, _ = await close_of(server.ws, frame=auth_frame(token))
    assert code == frame_code == 1011
    formatter = logging.Formatter("%(name)s %(message)s")  # with exc_info's traceback, if any
    server_log = "\n".join(
        formatter.format(record)
        for record in caplog.records
        if not record.name.startswith("websockets.client")  # this test's own client
    )
    assert "socket authentication failed" in server_log
    assert token.split("_", 2)[2] not in server_log
