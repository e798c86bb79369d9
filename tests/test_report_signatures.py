"""Reports' signatures: the files verify offline with `relay247 report verify` and the
published keys, and a byte changed in any of them, a rewritten manifest or an unknown key is
caught; `relay247 report generate` makes a report that verifies too."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.audit.keys import SigningKey
from tests.cli_runner import invoke
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.processes import environment
from tests.reports import download, generate, verify


async def _files(
    client: httpx.AsyncClient, party: Party, report: dict[str, Any], folder: Path
) -> list[Path]:
    paths = []
    for part, name in (("pdf", "report.pdf"), ("csv", "report.csv"), ("manifest", "manifest.json")):
        path = folder / name
        path.write_bytes(await download(client, party, report, part))
        paths.append(path)
    return paths


async def test_the_files_verify_offline_and_any_changed_byte_is_caught(
    server: RunningServer, world: World, tmp_path: Path
) -> None:
    async with http(server.http) as client:
        report = await generate(client, world.gs, "network")
        paths = await _files(client, world.gs, report, tmp_path)
        keys = await client.get("/v1/audit/public-keys", headers=world.gs.headers)
    keys_file = tmp_path / "keys.json"
    keys_file.write_bytes(keys.content)
    code, output = await verify(*paths, key=str(keys_file))
    assert code == 0, output
    assert f"report verified: {report['id']}" in output
    assert "report of the network" in output

    faults = {
        "report.pdf": "the PDF is not the one the manifest names",
        "report.csv": "the CSV is not the one the manifest names",
        "manifest.json": "the manifest",
    }
    for path in paths:
        original = path.read_bytes()
        for offset in (0, len(original) // 2, len(original) - 1):
            changed = bytearray(original)
            changed[offset] ^= 0x01
            path.write_bytes(bytes(changed))
            code, output = await verify(*paths, key=str(keys_file))
            assert code == 1, (path.name, offset, output)
            assert "report FAULT" in output
            assert faults[path.name] in output, output
        path.write_bytes(original)
    # A member of the manifest rewritten, the JSON still valid: the signature fails.
    manifest = paths[2].read_bytes()
    paths[2].write_bytes(manifest.replace(b'"scope":"network"', b'"scope":"DE"'))
    code, output = await verify(*paths, key=str(keys_file))
    assert code == 1
    assert "signature does not verify" in output
    paths[2].write_bytes(manifest)

    # The right files under a key the service never had.
    stranger = base64.b64encode(SigningKey.generate().public_key).decode()
    code, output = await verify(*paths, key=stranger)
    assert code == 1
    assert "none of the keys given" in output
    # The service's raw public key works too, and a key that is no key is a usage error.
    published = keys.json()["items"][0]["public_key"]
    assert (await verify(*paths, key=published))[0] == 0
    assert (await verify(*paths, key="not a key"))[0] == 2


async def test_the_command_generates_a_report_that_verifies_offline(
    world: World, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    env = environment(DATABASE_URL=database_url, RELAY247_DATA_DIR=str(tmp_path / "data"))
    out = tmp_path / "out"
    code, stdout, stderr = await invoke(
        "report", "generate", "--scope", "DE", "--from", "2026-03-01", "--to", "2026-04-01",
        "--out", str(out), env=env,
    )  # fmt: skip
    assert code == 0, stdout + stderr
    files = sorted(out.iterdir())
    assert [path.name for path in files] == [
        "relay247-report-DE-2026-03-01.csv",
        "relay247-report-DE-2026-03-01.manifest.json",
        "relay247-report-DE-2026-03-01.pdf",
    ]
    csv_file, manifest, pdf_file = files
    key = await db.fetchval("SELECT public_key FROM audit_signing_keys ORDER BY valid_from DESC")
    code, output = await verify(pdf_file, csv_file, manifest, key=base64.b64encode(key).decode())
    assert code == 0, output
    entry = await db.fetchrow(
        "SELECT actor_principal_id, countries FROM audit_entries WHERE action = 'report.generated'"
    )
    assert entry["actor_principal_id"] is None
    assert entry["countries"] == ["DE"]
    # A period no report covers is refused before anything is made.
    code, _, stderr = await invoke(
        "report", "generate", "--scope", "DE", "--from", "2026-04-01", "--to", "2026-03-01",
        env=env,
    )  # fmt: skip
    assert code == 2
    assert "must be after `from`" in stderr


async def test_hostile_files_and_keys_are_answered_with_a_message_never_a_traceback(
    server: RunningServer, world: World, tmp_path: Path
) -> None:
    """A manifest or keys document nested too deep, with a number Python will not convert, a
    key document without UTC offsets or not in UTF-8: each is a fault (1) or an unreadable
    key (2) with a message. (`invoke` fails the test on an exception the command lets out.)"""
    async with http(server.http) as client:
        report = await generate(client, world.gs, "network")
        pdf, csv, manifest = await _files(client, world.gs, report, tmp_path)
        keys = (await client.get("/v1/audit/public-keys", headers=world.gs.headers)).json()
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(keys))
    original = manifest.read_bytes()
    for hostile in (b"[" * 100_000, b'{"v": ' + b"1" * 5000 + b"}"):
        manifest.write_bytes(hostile)
        code, output = await verify(pdf, csv, manifest, key=str(keys_file))
        assert code == 1, output
        assert "report FAULT: the manifest is not JSON" in output
    manifest.write_bytes(original)

    def keys_with(**changes: str) -> dict[str, Any]:
        return {"items": [{**keys["items"][0], **changes}]}

    unreadable: dict[str, tuple[str | bytes, str]] = {
        "deep.json": ("[" * 100_000, "not JSON"),
        "number.json": ('{"items": ' + "1" * 5000 + "}", "not JSON"),
        "naive-from.json": (
            json.dumps(keys_with(valid_from="2026-01-01T00:00:00")),
            "has no UTC offset",
        ),
        "naive-retired.json": (
            json.dumps(keys_with(retired_at="2999-01-01T00:00:00")),
            "has no UTC offset",
        ),
        "latin1.txt": (b"\xff\xfe not UTF-8", "not UTF-8 text"),
    }
    for name, (content, reason) in unreadable.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        code, output = await verify(pdf, csv, manifest, key=str(path))
        assert code == 2, (name, output)
        assert "relay247: --public-key" in output, output
        assert reason in output, (name, output)
        # The same document given inline (the bytes that are not UTF-8: not base64 either).
        code, output = await verify(pdf, csv, manifest, key=path.read_text(errors="replace"))
        assert code == 2, (name, output)
    assert (await verify(pdf, csv, manifest, key=str(keys_file)))[0] == 0


async def test_an_out_folder_that_cannot_be_made_is_refused_before_a_report_is_made(
    world: World, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """--out naming a file (or a folder that cannot be made) was a traceback once the report
    was already stored, its files lost: now a usage error, and nothing is made."""
    env = environment(DATABASE_URL=database_url, RELAY247_DATA_DIR=str(tmp_path / "data"))
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    for out in (taken, taken / "below"):
        code, stdout, stderr = await invoke(
            "report", "generate", "--scope", "DE", "--from", "2026-03-01", "--to", "2026-04-01",
            "--out", str(out), env=env,
        )  # fmt: skip
        assert code == 2, stdout + stderr
        assert f"relay247: cannot write the report's files to {out}" in stderr
    assert await db.fetchval("SELECT count(*) FROM reports") == 0
