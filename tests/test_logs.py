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
from urllib.parse import unquote

import asyncpg
import httpx
import pytest

from app.core.observability.redaction import redact
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


@pytest.mark.slow
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


async def upload_with_markers(base: str, world: World, db: asyncpg.Connection) -> list[int]:
    """Uploads whose name and H3 note are markers (they travel in the query), answered 201,
    401, 404, 413, 422, 500 (a trigger that quotes the name in its error) and 409."""
    unit = world.unit("FR")
    query = {
        "name": f"{MARKER}.txt",
        "onward_use": ["H2", "H3"],
        "handling_note": f"note {MARKER}",
    }
    answers = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def post(
            request_id: str, headers: dict[str, str], size: int = 16, **params: str
        ) -> None:
            response = await client.post(
                f"/v1/requests/{request_id}/files",
                params={**query, **params},
                content=b"x" * size,
                headers=headers,
            )
            answers.append(response.status_code)

        created = await client.post("/v1/requests", json=request_body(), headers=unit.headers)
        request_id = created.json()["id"]
        await post(request_id, unit.headers)
        await post(request_id, {})
        await post(str(uuid.uuid4()), unit.headers)
        await post(request_id, unit.headers, size=2048)
        await post(request_id, unit.headers, handling_code=MARKER)
        await db.execute(
            """
            CREATE FUNCTION refuse_file() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'refused %', NEW.name USING DETAIL = NEW.handling_note;
            END $$;
            CREATE TRIGGER refuse_file BEFORE INSERT ON files
                FOR EACH ROW EXECUTE FUNCTION refuse_file();
            """
        )
        try:
            await post(request_id, unit.headers)
        finally:
            await db.execute("DROP TRIGGER refuse_file ON files; DROP FUNCTION refuse_file()")
        await client.post(
            f"/v1/requests/{request_id}/actions/cancel",
            json={"reason": "no longer needed"},
            headers=unit.headers,
        )
        await post(request_id, unit.headers)
    ws = base.replace("http", "ws", 1) + f"/v1/ws?name={MARKER}&handling_note={MARKER}"
    await close_of(ws, frame=json.dumps({"type": "auth", "token": FAKE_TOKENS[0]}))
    return answers


def encodings(token: str) -> list[str]:
    """A token as a client may (wrongly) put it in a URL: its '_' percent-encoded in upper
    and lower case, every character encoded, encoded twice, partly encoded."""
    return [
        token.replace("_", "%5F"),
        token.replace("_", "%5f"),
        "".join(f"%{byte:02X}" for byte in token.encode()),
        token.replace("_", "%255F"),
        token[:5] + token[5:].replace("_", "%5F"),
    ]


@pytest.mark.slow
async def test_no_log_line_holds_upload_metadata_or_an_encoded_token(
    world: World, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    env = environment(DATABASE_URL=database_url, RELAY247_FILE_MAX_BYTES="1024")
    token = world.unit("FR").token
    secret = token.split("_", 2)[2]
    async with serving(free_port(), env, log=log) as base:
        answers = await upload_with_markers(base, world, db)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for encoded in encodings(token):
                await client.get(f"/v1/tokens/{encoded}/rotate")
                await client.get(f"/v1/requests?auth={encoded}")
                await client.get(f"/web/requests/{encoded}")
    assert answers == [201, 401, 404, 413, 422, 500, 409]

    written = log.read_text(errors="replace")
    for seen in (written, unquote(written), unquote(unquote(written))):
        assert MARKER not in seen
        assert secret not in seen
    assert "unhandled error, answered 500" in written, "the failed upload was logged"
    # The access log still says what was asked, and of which token.
    query = "?name=[redacted]&onward_use=[redacted]&onward_use=[redacted]&handling_note="
    assert f"/files{query}" in written
    prefix = "_".join(token.split("_", 2)[:2])
    assert f"/v1/tokens/{prefix}_[redacted]/rotate" in written


@pytest.mark.parametrize("encoded", encodings("r247_0123456789ab_S3cr3t-x_Y"))
def test_a_percent_encoded_token_is_redacted(encoded: str) -> None:
    for line in (f"GET /v1/tokens/{encoded}/rotate HTTP/1.1", f"Bearer%20{encoded}%0A"):
        redacted = redact(line)
        assert "r247_0123456789ab_[redacted]" in redacted
        assert "S3cr3t" not in unquote(unquote(redacted))
