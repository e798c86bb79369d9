"""No log line carries request content or a token, whatever the input and whatever fails.

The real service runs as a subprocess writing its log to a file; every bad input, fake token
and database fault below carries a marker, and the whole log is then searched for it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.clients import close_of
from tests.conftest import free_port
from tests.factories import World, request_body
from tests.processes import environment, serving

MARKER = f"Mk{uuid.uuid4().hex}"  # letters and digits: fits in any field and in a token
# Fake tokens: well formed (reaches the lookup), malformed, and with a NUL.
FAKE_TOKENS = [
    f"r247_0123456789ab_{(MARKER * 2)[:43]}",
    f"r247_{MARKER}_{MARKER}",
    f"r247_0123456789ab_{MARKER}\x00",
]


async def chunked(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def send_bad_inputs(base: str, world: World) -> None:
    unit = world.unit("FR").headers
    as_json = {**unit, "Content-Type": "application/json"}

    def body(**overrides: Any) -> bytes:
        return json.dumps(request_body(**overrides)).encode()  # NULs travel as \u0000

    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for content in [
            body(subject=f"{MARKER}\x00"),
            body(details=f"{MARKER}\x00"),
            body(legal_basis=f"\x00{MARKER}"),
            body(identifiers=[{"kind": "account", "value": f"{MARKER}\x00"}]),
            body(identifiers=[{"kind": "ip", "value": MARKER}]),
            body(details=f"{MARKER} \ud800"),
            body(subject=MARKER * 50),
            body(**{MARKER: "unknown field"}),
            f'{{"subject": "{MARKER}", not json'.encode(),
            body(details=MARKER * 10_000),  # over the size limit
        ]:
            await client.post("/v1/requests", content=content, headers=as_json)
        await client.post(
            "/v1/requests", content=chunked(body(details=MARKER * 10_000)), headers=as_json
        )
        for key in [MARKER * 10, f"{MARKER} key"]:
            await client.post(
                "/v1/requests", content=body(), headers={**as_json, "Idempotency-Key": key}
            )
        reused = {**as_json, "Idempotency-Key": f"key-{MARKER}"}
        await client.post("/v1/requests", content=body(), headers=reused)
        await client.post("/v1/requests", content=body(subject=MARKER), headers=reused)
        forged = json.dumps({"t": f"{MARKER}", "i": MARKER}).encode()
        await client.get(
            "/v1/requests",
            params={"cursor": base64.urlsafe_b64encode(forged).decode()},
            headers=unit,
        )
        await client.post(
            "/v1/requests", content=body(), headers={**as_json, "X-Forwarded-For": MARKER}
        )
        for token in FAKE_TOKENS:
            if "\x00" not in token:  # no HTTP client sends a NUL in a header
                await client.get("/v1/requests", headers={"Authorization": f"Bearer {token}"})
    ws = base.replace("http", "ws", 1) + "/v1/ws"
    for token in FAKE_TOKENS:
        if "\x00" not in token:
            await close_of(ws, headers={"Authorization": f"Bearer {token}"})
        await close_of(ws, frame=json.dumps({"type": "auth", "token": token}))


async def cause_database_faults(
    base: str, world: World, db: asyncpg.Connection
) -> list[httpx.Response]:
    """Errors whose messages quote the content (a trigger's RAISE, a unique violation's
    detail) or whose statement carried a token's prefix (the lookup on a broken table)."""
    unit = world.unit("FR").headers
    answers = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await db.execute(
            """
            CREATE FUNCTION refuse_request() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.details LIKE 'refuse%' THEN
                    RAISE EXCEPTION 'refused %', NEW.subject USING DETAIL = NEW.details;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_request BEFORE INSERT ON requests
                FOR EACH ROW EXECUTE FUNCTION refuse_request();
            CREATE UNIQUE INDEX one_request_per_subject ON requests (subject)
                WHERE subject LIKE 'once %';
            """
        )
        try:
            for overrides in [
                {"subject": MARKER, "details": f"refuse {MARKER}"},
                {"subject": f"once {MARKER}"},
                {"subject": f"once {MARKER}"},
            ]:
                answers.append(
                    await client.post("/v1/requests", json=request_body(**overrides), headers=unit)
                )
        finally:
            await db.execute(
                "DROP INDEX one_request_per_subject; DROP TRIGGER refuse_request ON requests; "
                "DROP FUNCTION refuse_request()"
            )
        await db.execute("ALTER TABLE api_tokens RENAME COLUMN prefix TO prefix_gone")
        try:
            answers.append(await client.get("/v1/requests", headers=unit))
            ws = base.replace("http", "ws", 1) + "/v1/ws"
            await close_of(ws, headers=world.desk("DE").headers)
        finally:
            await db.execute("ALTER TABLE api_tokens RENAME COLUMN prefix_gone TO prefix")
    return answers


async def test_no_log_line_holds_request_content_or_a_token(
    world: World, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    env = environment(DATABASE_URL=database_url)
    async with serving(free_port(), env, log=log) as base:
        await send_bad_inputs(base, world)
        faults = await cause_database_faults(base, world, db)
    assert [answer.status_code for answer in faults] == [500, 201, 409, 500]

    written = log.read_text(errors="replace")
    assert "unhandled error, answered 500" in written, "the faults were logged"
    assert "socket authentication failed" in written
    assert MARKER not in written
    for party in world.parties.values():
        assert party.token.split("_", 2)[2] not in written
