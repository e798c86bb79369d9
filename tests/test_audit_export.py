"""Exports of the audit trail (GET /v1/audit/export, `relay247 audit export`) and their offline
check (`relay247 audit verify FILE --public-key KEY`): a live trail verifies with the
published key alone, in NDJSON and CSV, filtered or not; each tampering is named."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.audit.checkpoints import Checkpoint, sign
from app.audit.export_verify import ExportReport, verify_export
from app.audit.keys import SigningKey, parse_public_keys
from app.audit.sealer import seal_batch
from app.core.canonical import jcs
from app.core.database import Database
from app.core.settings import Settings
from app.models.enums import Role
from tests.cli_runner import invoke
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed
from tests.factories import Party, World, make_party
from tests.processes import environment
from tests.waiting import eventually


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The server's signing key and checkpoint file in the test's folder."""
    return changed(
        settings,
        audit={
            "audit_signing_key_file": tmp_path / "key.pem",
            "audit_checkpoint_file": tmp_path / "checkpoints.ndjson",
        },
    )


async def all_sealed(db: asyncpg.Connection) -> None:
    async def sealed() -> bool:
        unsealed = await db.fetchval("SELECT count(*) FROM audit_entries WHERE sealed_at IS NULL")
        return bool(unsealed == 0)

    await eventually(sealed, within=10)


async def live_trail(client: httpx.AsyncClient, world: World, db: asyncpg.Connection) -> None:
    """Requests from France and Japan to Germany, acknowledged and read: entries concerning
    (FR, DE) and (JP, DE), FR ones first so that a Japanese export starts after position 1."""
    for sender in (world.unit("FR"), world.unit("FR"), world.unit("JP"), world.unit("FR")):
        created = await submit_request(client, sender)
        desk = world.desk("DE")
        response = await client.post(f"/v1/requests/{created['id']}/ack", headers=desk.headers)
        assert response.status_code == 200, response.text
        response = await client.get(f"/v1/requests/{created['id']}", headers=desk.headers)
        assert response.status_code == 200, response.text
    await all_sealed(db)


async def export(
    client: httpx.AsyncClient, party: Party, **params: str
) -> tuple[httpx.Response, str]:
    response = await client.get("/v1/audit/export", params=params, headers=party.headers)
    return response, response.text


async def published(client: httpx.AsyncClient, party: Party) -> dict[str, Any]:
    response = await client.get("/v1/audit/public-keys", headers=party.headers)
    assert response.status_code == 200
    keys: dict[str, Any] = response.json()
    return keys


def check(text: str, keys: dict[str, Any]) -> ExportReport:
    return verify_export(text.splitlines(keepends=True), parse_public_keys([json.dumps(keys)]))


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def national_auditor(database: Database, world: World, country: str) -> Party:
    ncb = world(country, Role.NCB)
    return await make_party(
        database,
        agency_id=ncb.agency_id,
        country=country,
        role=Role.NATIONAL_AUDITOR,
        name=f"{country} auditor",
    )


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_an_export_of_a_live_trail_verifies_offline_with_the_published_key(
    fmt: str, server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    auditor = world.auditor
    async with http(server.http) as client:
        await live_trail(client, world, db)
        sealed = await db.fetchval("SELECT max(chain_position) FROM audit_entries")
        response, text = await export(client, auditor, format=fmt)
        keys = await published(client, auditor)
    assert response.status_code == 200, text
    media = {"ndjson": "application/x-ndjson", "csv": "text/csv"}[fmt]
    assert response.headers["content-type"].startswith(media)
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    report = check(text, keys)
    assert report.fault is None, report.fault
    # Unfiltered: every sealed entry whole from position 1, no link, and the tail signed.
    assert (report.first_position, report.links) == (1, 0)
    assert report.entries == report.last_position >= sealed
    assert report.covered_by is not None
    assert report.covered_by.position == report.last_position
    # With the real command and nothing but the file and the endpoint's JSON.
    (tmp_path / "export").write_text(text)
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    code, stdout, stderr = await invoke(
        "audit",
        "verify",
        str(tmp_path / "export"),
        "--public-key",
        str(tmp_path / "keys.json"),
        env=environment(),
    )
    assert (code, stderr) == (0, ""), stdout + stderr
    assert stdout.startswith(f"export verified: {report.entries} entries and 0 links")
    # The key as base64 of its raw bytes works as well.
    (key,) = keys["items"]
    code, stdout, _ = await invoke(
        "audit",
        "verify",
        str(tmp_path / "export"),
        "--public-key",
        key["public_key"],
        env=environment(),
    )
    assert code == 0, stdout


async def test_a_country_filtered_export_holds_links_and_verifies(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        await live_trail(client, world, db)
        # Both exports end here: the first one's own entry (audit.exported, about JP) may be
        # sealed before the second one starts, and would be in it.
        until = datetime.now(UTC).isoformat()
        response, text = await export(client, world.auditor, country="JP", until=until)
        keys = await published(client, world.auditor)
        _, csv_text = await export(client, world.auditor, country="JP", until=until, format="csv")
    assert response.status_code == 200, text
    report = check(text, keys)
    assert report.fault is None, report.fault
    assert report.entries > 0
    assert report.links > 0
    assert report.first_position is not None
    assert report.first_position > 1
    lines = records(text)
    assert lines[0]["filters"]["country"] == "JP"
    entries = [line for line in lines if line["type"] == "entry"]
    assert all("JP" in entry["countries"] for entry in entries)
    links = [line for line in lines if line["type"] == "link"]
    assert all(set(link) == {"type", "position", "digest"} for link in links)
    # The CSV holds the same records and verifies the same.
    csv_report = check(csv_text, keys)
    assert csv_report.fault is None, csv_report.fault
    assert (csv_report.entries, csv_report.links) == (report.entries, report.links)


def canonical(record: dict[str, Any]) -> str:
    """A line as the service writes it (RFC 8785), as a forger who knows the format would."""
    return jcs(record).decode() + "\n"


def _replace_line(text: str, number: int, line: str | None) -> str:
    lines = text.splitlines(keepends=True)
    if line is None:
        del lines[number - 1]
    else:
        lines[number - 1] = line
    return "".join(lines)


def _line_of(text: str, predicate: Any, nth: int = 0) -> int:
    found = [n for n, record in enumerate(records(text), start=1) if predicate(record)]
    return found[nth]


async def test_each_tampering_is_named_at_the_first_bad_line(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        await live_trail(client, world, db)
        _, text = await export(client, world.auditor)
        _, filtered = await export(client, world.auditor, country="JP")
        _, csv_text = await export(client, world.auditor, format="csv")
        keys = await published(client, world.auditor)
    assert check(text, keys).fault is None
    entry_lines = [n for n, r in enumerate(records(text), start=1) if r["type"] == "entry"]
    third = entry_lines[2]

    def fault(tampered: str, *, of: str = "") -> str:
        report = check(tampered, keys)
        assert report.fault is not None, f"{of}: not caught"
        return str(report.fault)

    # A byte edited in an entry: the next entry still chains from its stored hash.
    edited = text.splitlines(keepends=True)[third - 1].replace('"action":"', '"action":"X', 1)
    assert fault(_replace_line(text, third, edited)).startswith(f"line {third}, position 3:")
    assert "changed after sealing" in fault(_replace_line(text, third, edited))
    # An entry deleted from the file: its position is missing.
    reason = fault(_replace_line(text, third, None))
    assert reason.startswith(f"line {third}, position 3:"), reason
    assert "missing" in reason
    # Two entries swapped.
    lines = text.splitlines(keepends=True)
    lines[third - 1], lines[third] = lines[third], lines[third - 1]
    reason = fault("".join(lines))
    assert reason.startswith(f"line {third}, position 3:"), reason
    assert "out of order" in reason
    # The file cut short: at a line's end (no end line), and within a line.
    lines = text.splitlines(keepends=True)
    assert "cut short" in fault("".join(lines[:-1]))
    assert "cut short" in fault("".join(lines[:-1]) + lines[-1][:20])
    assert "cut short" in fault("".join(lines[: third + 1]))
    # A checkpoint signed by another key, under its own id and under the published one.
    checkpoint_line = _line_of(text, lambda r: r["type"] == "relay247.audit.checkpoint")
    original = Checkpoint.parse(text.splitlines()[checkpoint_line - 1])
    other = SigningKey.generate()
    forged = sign(
        other, position=original.position, chain_hash=original.hash, signed_at=original.signed_at
    )
    reason = fault(_replace_line(text, checkpoint_line, forged.line() + "\n"))
    assert reason.startswith(f"line {checkpoint_line}, position {original.position}:"), reason
    assert f"signed by key {other.key_id}, which is none of the keys given" in reason
    posing = Checkpoint(
        original.position, original.hash, original.signed_at, original.key_id, forged.signature
    )
    reason = fault(_replace_line(text, checkpoint_line, posing.line() + "\n"))
    assert "its signature does not verify" in reason
    # previous_hash forged: the filtered export starts after position 1; the header is signed.
    first = records(filtered)[0]
    assert first["first_position"] > 1
    assert check(filtered, keys).fault is None
    forged_header = canonical({**first, "previous_hash": "ab" * 32})
    reason = fault(_replace_line(filtered, 1, forged_header))
    assert reason.startswith("line 1:"), reason
    assert "the header's signature does not verify" in reason
    # A line not in its RFC 8785 form (whitespace) is refused, whatever it holds.
    reason = fault(_replace_line(filtered, 1, json.dumps(first) + "\n"))
    assert reason.startswith("line 1:"), reason
    assert "not in its RFC 8785 form" in reason
    # A link's digest changed: the next entry no longer follows.
    link = _line_of(filtered, lambda r: r["type"] == "link")
    record = records(filtered)[link - 1]
    changed = canonical({**record, "digest": "00" * 32})
    assert "line" in fault(_replace_line(filtered, link, changed))
    # CSV: a byte edited in an entry's row is named at its line too.
    csv_lines = csv_text.splitlines(keepends=True)
    row = next(n for n, line in enumerate(csv_lines, start=1) if line.startswith("entry,2,3,"))
    csv_lines[row - 1] = csv_lines[row - 1].replace("Z,", "Z,X", 2)
    reason = fault("".join(csv_lines))
    assert reason.startswith(f"line {row}, position 3:"), reason


async def test_a_national_auditor_exports_its_own_country_only(
    server: RunningServer, world: World, db: asyncpg.Connection, database: Database
) -> None:
    japan = await national_auditor(database, world, "JP")
    async with http(server.http) as client:
        await live_trail(client, world, db)
        refused, body = await export(client, japan, country="FR")
        own, text = await export(client, japan)
        keys = await published(client, japan)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["status"] == 403
    assert own.status_code == 200, text
    report = check(text, keys)
    assert report.fault is None, report.fault
    lines = records(text)
    # The header says what was read: the country it asked for none of, its own.
    assert lines[0]["filters"] == {"country": "JP"}
    entries = [r for r in lines if r["type"] == "entry"]
    assert entries
    assert all("JP" in entry["countries"] for entry in entries)
    assert report.links > 0


async def test_an_export_is_audited_before_it_is_sent(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        await live_trail(client, world, db)
        response, _ = await export(
            client, world.auditor, country="DE", format="csv", action="request.read"
        )
    assert response.status_code == 200
    row = await db.fetchrow(
        "SELECT actor_principal_id, object_type, object_id, details, countries "
        "FROM audit_entries WHERE action = 'audit.exported'"
    )
    assert row is not None
    assert (row["object_type"], row["object_id"]) == ("audit", "export")
    assert row["actor_principal_id"] == world.auditor.principal_id
    assert json.loads(row["details"]) == {
        "country": "DE",
        "action": "request.read",
        "format": "csv",
    }
    assert "DE" in row["countries"]


async def test_bad_parameters_are_422_before_any_byte(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        for params in (
            {"format": "xml"},
            {"since": "2026-11-20T08:00:00"},
            {"country": "fr"},
            {"agency_id": "nope"},
            {"action": ""},
        ):
            response, text = await export(client, world.auditor, **params)
            assert response.status_code == 422, (params, text)
            assert response.headers["content-type"].startswith("application/problem+json")
    assert (
        await db.fetchval("SELECT count(*) FROM audit_entries WHERE action = 'audit.exported'") == 0
    )


async def test_the_command_line_export_is_the_endpoints_and_verifies(
    server: RunningServer, world: World, db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    async with http(server.http) as client:
        await live_trail(client, world, db)
        until = await db.fetchval(
            "SELECT to_char(max(occurred_at) AT TIME ZONE 'UTC' + interval '1 microsecond', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') FROM audit_entries'
        )
        # The first export signs the tail; both then cover the same segment.
        _, endpoint = await export(client, world.auditor, country="JP", until=until)
        keys = await published(client, world.auditor)
        env = environment(
            DATABASE_URL=database_url,
            RELAY247_AUDIT_SIGNING_KEY_FILE=str(tmp_path / "key.pem"),
            RELAY247_AUDIT_CHECKPOINT_FILE=str(tmp_path / "checkpoints.ndjson"),
        )
        code, stdout, stderr = await invoke(
            "audit", "export", "--country", "JP", "--until", until, env=env
        )
        assert (code, stderr) == (0, ""), stderr
        output = tmp_path / "export.csv"
        code, _, stderr = await invoke(
            "audit", "export", "--format", "csv", "--output", str(output), env=env
        )
        assert code == 0, stderr
        code, _, stderr = await invoke("audit", "export", "--since", "yesterday", env=env)
        assert code == 2
        assert "--since" in stderr
    # Both signed the header at their own moment (signed_at, and so the signature).
    signed = re.compile(r'"(signed_at|signature)":"[^"]*"')
    assert signed.sub("", stdout.splitlines()[0]) == signed.sub("", endpoint.splitlines()[0])
    assert stdout.splitlines()[1:] == endpoint.splitlines()[1:]
    assert check(output.read_text(), keys).fault is None


async def test_a_format_1_entry_left_out_is_a_fault_naming_its_position(
    world: World, database: Database, db: asyncpg.Connection, server: RunningServer
) -> None:
    """An entry written before migration 0011 (countries NULL) hashes its whole bytes: a
    filtered export leaving it out cannot link across it, and the verifier says so."""
    async with http(server.http) as client:
        await submit_request(client, world.unit("JP"))
        await all_sealed(db)
        await db.execute("SELECT pg_advisory_lock(x'5232343741554454'::bigint)")
        try:
            await db.execute(
                "INSERT INTO audit_entries (action, object_type, object_id, details, countries) "
                "VALUES ('request.read', 'request', 'legacy', '{}', NULL)"
            )
        finally:
            await db.execute("SELECT pg_advisory_unlock(x'5232343741554454'::bigint)")
        await all_sealed(db)
        legacy = await db.fetchval(
            "SELECT chain_position FROM audit_entries WHERE object_id = 'legacy'"
        )
        await submit_request(client, world.unit("JP"))
        await all_sealed(db)
        _, text = await export(client, world.auditor, country="JP")
        _, whole = await export(client, world.auditor)
        keys = await published(client, world.auditor)
    (link,) = [r for r in records(text) if r["type"] == "link" and "v" in r]
    assert link == {"type": "link", "position": legacy, "v": 1}
    report = check(text, keys)
    assert report.fault is not None
    assert report.fault.position == legacy
    assert "format 1 entry is left out" in report.fault.reason
    # Unfiltered, it is there whole, and the export verifies.
    assert check(whole, keys).fault is None


async def test_an_empty_export_verifies(
    server: RunningServer, world: World, database: Database
) -> None:
    while await seal_batch(database.engine) is not None:
        pass
    async with http(server.http) as client:
        response, text = await export(client, world.auditor, action="nothing.ever")
        keys = await published(client, world.auditor)
    assert response.status_code == 200
    lines = records(text)
    assert [line["type"] for line in lines] == ["relay247.audit.export", "end"]
    assert check(text, keys).fault is None


def test_public_keys_in_every_form(tmp_path: Path) -> None:
    key = SigningKey.generate()
    raw = base64.b64encode(key.public_key).decode()
    (tmp_path / "key.b64").write_text(raw + "\n")
    assert set(parse_public_keys([raw])) == {key.key_id}
    assert set(parse_public_keys([str(tmp_path / "key.b64")])) == {key.key_id}
    listing = {
        "items": [
            {
                "key_id": key.key_id,
                "algorithm": "Ed25519",
                "public_key": raw,
                "valid_from": "2026-11-23T00:00:00Z",
                "retired_at": None,
                "padding": "x" * 600,  # longer than a file name may be
            }
        ]
    }
    assert set(parse_public_keys([json.dumps(listing)])) == {key.key_id}
    listing["items"][0]["key_id"] = "0" * 64
    with pytest.raises(ValueError, match="is not the SHA-256 of its public key"):
        parse_public_keys([json.dumps(listing)])
    with pytest.raises(ValueError, match=r"not the 32"):
        parse_public_keys([base64.b64encode(b"short").decode()])


async def test_a_database_failing_midway_cuts_the_file_short_and_logs_without_content(
    server: RunningServer,
    world: World,
    database: Database,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await db.execute(
        "INSERT INTO audit_entries (action, object_type, object_id, details) "
        "SELECT 'request.read', 'request', 'secret-' || g, jsonb_build_object('n', g) "
        "FROM generate_series(1, 20000) AS g"
    )
    while await seal_batch(database.engine, limit=5000) is not None:
        pass
    received = b""
    async with http(server.http) as client:
        keys = await published(client, world.auditor)  # none yet: the export signs first
        with pytest.raises(httpx.HTTPError):  # noqa: PT012 (the failure comes while reading)
            async with client.stream(
                "GET", "/v1/audit/export", headers=world.auditor.headers
            ) as response:
                assert response.status_code == 200
                async for piece in response.aiter_raw():
                    if b'"type":"entry"' in piece and b'"type":"entry"' not in received:
                        # The entries' cursor is open: its connection goes away.
                        killed = await db.fetchval(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND query LIKE '%matches%' "
                            "AND pid <> pg_backend_pid()"
                        )
                        assert killed == 1
                    received += piece
        keys = await published(client, world.auditor)
    text = received.decode()
    assert 0 < len(text.splitlines()) < 20000
    report = check(text, keys)
    assert report.fault is not None
    assert "cut short" in report.fault.reason
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert failures
    assert not any("secret-" in r.getMessage() for r in caplog.records)

    async def slot_released() -> bool:  # RELAY247_MAX_EXPORTS counts running exports only
        return bool(server.app.state.export_limits.running == 0)

    await eventually(slot_released, within=5)


async def test_a_probe_of_a_hidden_request_is_exported_to_the_probers_country_unnamed(
    server: RunningServer, world: World, db: asyncpg.Connection, database: Database
) -> None:
    """JP's export shows JP's probe of a FR->DE request without DE or FR, and the digest it
    shows for the entry naming them, right after, cannot be matched by guessing: everything
    else in that entry is known to JP's auditor (here: taken from the network's export)."""
    japan = await national_auditor(database, world, "JP")
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        probe = await client.get(f"/v1/requests/{request_id}", headers=world.desk("JP").headers)
        assert probe.status_code == 404
        await all_sealed(db)
        _, text = await export(client, japan)
        _, network_text = await export(client, world.auditor)
        keys = await published(client, japan)
    report = check(text, keys)
    assert report.fault is None, report.fault
    lines = records(text)
    entries = [r for r in lines if r["type"] == "entry"]
    assert all(r["countries"] == ["JP"] for r in entries), entries
    [entry] = [r for r in entries if r["action"] == "access.refused"]
    assert entry["object_id"] == request_id
    [link] = [r for r in lines if r["type"] == "link" and r["position"] == entry["position"] + 1]

    [named] = [
        r
        for r in records(network_text)
        if r["type"] == "entry" and r["position"] == link["position"]
    ]
    assert named["countries"] == ["DE", "FR"]
    document = {k: v for k, v in named.items() if k not in ("type", "hash")}
    assert hashlib.sha256(jcs(document)).hexdigest() == link["digest"]
    guessed = {**document, "details": {**document["details"], "salt": "0" * 32}}
    assert hashlib.sha256(jcs(guessed)).hexdigest() != link["digest"]
    unsalted = {
        **document,
        "details": {k: v for k, v in document["details"].items() if k != "salt"},
    }
    assert hashlib.sha256(jcs(unsalted)).hexdigest() != link["digest"]
