"""Tampered copies of real exports, each made the way a forger who knows the format would
(every line rewritten in its RFC 8785 form, the end line's counts made to agree), fail
`relay247 audit verify FILE` with exit 1 and a message naming the problem (issue 19, item
10): the service signs what an export asserts beyond the chain (its header: filters, range,
counts), and the verifier reads every line strictly."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

import app.cli.audit  # noqa: F401 (registers the audit commands)
from app.cli.app import cli
from app.services.audit.chain import jcs
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World
from tests.test_audit_export import all_sealed, live_trail, published

Lines = list[dict[str, Any]]


@pytest.fixture(autouse=True)
def _key_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from app.settings import audit_settings

    monkeypatch.setenv("RELAY247_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "key.pem"))
    monkeypatch.setenv("RELAY247_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.ndjson"))
    audit_settings.cache_clear()
    yield
    audit_settings.cache_clear()


def parse(text: str) -> Lines:
    return [json.loads(line) for line in text.splitlines()]


def write(lines: Lines) -> str:
    """As a forger writes them: each line in its RFC 8785 form, as the service does."""
    return "".join(jcs(line).decode() + "\n" for line in lines)


def digest(entry: dict[str, Any]) -> str:
    canonical = {name: value for name, value in entry.items() if name not in ("type", "hash")}
    return hashlib.sha256(jcs(canonical)).hexdigest()


def end_of(lines: Lines) -> dict[str, Any]:
    """The end line the records of ``lines`` call for."""
    body = [line for line in lines if line["type"] in ("entry", "link")]
    last = body[-1]
    return {
        "type": "end",
        "entries": sum(1 for line in body if line["type"] == "entry"),
        "links": sum(1 for line in body if line["type"] == "link"),
        "last_position": last["position"],
        "last_hash": last.get("hash") or lines[-1]["last_hash"],
    }


def verify(tmp_path: Path, text: str, keys: dict[str, Any], *extra: str) -> tuple[int, str]:
    (tmp_path / "tampered").write_text(text)
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    result = CliRunner().invoke(
        cli,
        [
            "audit",
            "verify",
            str(tmp_path / "tampered"),
            "--public-key",
            str(tmp_path / "keys.json"),
            *extra,
        ],
    )
    return result.exit_code, result.output


async def export(client: httpx.AsyncClient, world: World, **params: str) -> str:
    response = await client.get("/v1/audit/export", params=params, headers=world.auditor.headers)
    assert response.status_code == 200, response.text
    return response.text


def links_in_an_unfiltered_export(lines: Lines) -> Lines:
    """Two entries shown as their links: their content hidden, the chain still whole."""
    entries = [n for n, line in enumerate(lines) if line["type"] == "entry"]
    for n in entries[2:4]:
        entry = lines[n]
        lines[n] = {"type": "link", "position": entry["position"], "digest": digest(entry)}
    lines[-1] = end_of(lines)
    return lines


def first_ten_dropped(lines: Lines) -> Lines:
    """The first ten entries gone, the header's first_position and previous_hash moved on."""
    entries = [line for line in lines if line["type"] == "entry"]
    dropped, tenth = entries[:10], entries[9]
    header = {**lines[0], "first_position": tenth["position"] + 1, "previous_hash": tenth["hash"]}
    kept = [header] + [line for line in lines[1:] if line not in dropped]
    kept[-1] = end_of(kept)
    return kept


def filters_forged(lines: Lines) -> Lines:
    """A JP export passed off as France's."""
    lines[0] = {**lines[0], "filters": {**lines[0]["filters"], "country": "FR"}}
    return lines


def duplicate_key(lines: Lines) -> Lines:
    """Written by hand below: one entry's action twice (a first-wins reader sees the first)."""
    return lines


TAMPERINGS: dict[str, tuple[Callable[[Lines], Lines], dict[str, str], str]] = {
    # name: (the tampering, the export's filters, what the message must say)
    "links in an unfiltered export": (
        links_in_an_unfiltered_export,
        {},
        "a link in an unfiltered export",
    ),
    "first ten entries dropped, start moved": (
        first_ten_dropped,
        {},
        "the header's signature does not verify",
    ),
    "filters forged": (filters_forged, {"country": "JP"}, "the header's signature does not verify"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
async def test_a_tampered_export_fails_and_says_why(
    name: str, server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    tamper, filters, says = TAMPERINGS[name]
    async with http(server.http) as client:
        await live_trail(client, world, db)
        text = await export(client, world, **filters)
        keys = await published(client, world.auditor)
    assert verify(tmp_path, text, keys)[0] == 0
    code, output = verify(tmp_path, write(tamper(parse(text))), keys)
    assert code == 1, output
    assert "export FAULT at line" in output, output
    assert says in output, output


async def test_an_entry_holding_a_member_twice_fails(
    server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    async with http(server.http) as client:
        await live_trail(client, world, db)
        text = await export(client, world)
        keys = await published(client, world.auditor)
    lines = text.splitlines(keepends=True)
    n = next(n for n, line in enumerate(lines) if '"action":"request.read"' in line)
    # Python's reader keeps the last value (the true one, whose hash holds); a first-wins
    # reader sees a harmless action instead of the read.
    lines[n] = lines[n].replace('{"action":', '{"action":"audit.listed","action":', 1)
    code, output = verify(tmp_path, "".join(lines), keys)
    assert code == 1, output
    assert f"export FAULT at line {n + 1}" in output, output
    assert "the member 'action' appears twice in one object" in output, output


async def test_a_tail_cut_after_an_earlier_checkpoint_fails(
    server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Everything after an earlier checkpoint cut off, the later checkpoints dropped and the
    end line rewritten: what remains is a whole signed segment, but not the one the header
    signs."""
    async with http(server.http) as client:
        await live_trail(client, world, db)
        await export(client, world)  # signs a checkpoint of the head: the earlier one
        earlier = await db.fetchval("SELECT max(chain_position) FROM audit_checkpoints")
        await live_trail(client, world, db)
        await all_sealed(db)
        text = await export(client, world)
        keys = await published(client, world.auditor)
    lines = parse(text)
    assert lines[-1]["last_position"] > earlier
    kept = [
        line
        for line in lines
        if line["type"] in ("relay247.audit.export", "end") or line["position"] <= earlier
    ]
    kept[-1] = end_of(kept)
    assert verify(tmp_path, text, keys)[0] == 0
    code, output = verify(tmp_path, write(kept), keys)
    assert code == 1, output
    assert "the export is not the one its header signs" in output, output
    assert f"last_position {earlier} where it signs" in output, output


async def test_a_csv_export_with_forged_filters_fails(
    server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    async with http(server.http) as client:
        await live_trail(client, world, db)
        text = await export(client, world, country="JP", format="csv")
        keys = await published(client, world.auditor)
    assert verify(tmp_path, text, keys)[0] == 0
    forged = text.replace('""country"":""JP""', '""country"":""FR""', 1)
    assert forged != text
    code, output = verify(tmp_path, forged, keys)
    assert code == 1, output
    assert "export FAULT at line 2" in output, output
    assert "the header's signature does not verify" in output, output
    # A link's row with an entry's details written into it: what a spreadsheet shows, and no
    # signature covers, so a row may fill only the cells of its type.
    rows = text.splitlines(keepends=True)
    n = next(n for n, row in enumerate(rows) if row.startswith("link,"))
    cells = rows[n].rstrip("\n").split(",")
    cells[16] = '"{""note"":""seen""}"'  # details
    rows[n] = ",".join(cells) + "\n"
    code, output = verify(tmp_path, "".join(rows), keys)
    assert code == 1, output
    assert f"export FAULT at line {n + 1}" in output, output
    assert "a link row fills details, which it never holds" in output, output


def as_version_1(text: str) -> str:
    """The export as version 1 wrote it: the same records under an unsigned header."""
    lines = parse(text)
    header = {
        name: lines[0][name] for name in ("type", "filters", "first_position", "previous_hash")
    }
    lines[0] = {**header, "v": 1, "generated_at": lines[0]["signed_at"]}
    return write(lines)


async def test_a_version_1_export_is_refused_unless_asked_for_and_then_warned_of(
    server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """An unsigned header proves nothing of the filters or the range: accepting one by default
    would let a forger rewrite a signed export as version 1 and tamper freely."""
    async with http(server.http) as client:
        await live_trail(client, world, db)
        text = await export(client, world)
        keys = await published(client, world.auditor)
    old = as_version_1(text)
    code, output = verify(tmp_path, old, keys)
    assert code == 1, output
    assert "a version 1 export: its header" in output, output
    assert "--accept-unsigned-v1" in output, output
    code, output = verify(tmp_path, old, keys, "--accept-unsigned-v1")
    assert code == 0, output
    assert "warning: a version 1 export" in output, output
    # What version 1 proves still holds: an entry changed is named.
    changed = old.replace('"action":"request.read"', '"action":"request.reed"', 1)
    code, output = verify(tmp_path, changed, keys, "--accept-unsigned-v1")
    assert code == 1, output
    assert "changed after sealing" in output, output


async def test_the_header_signature_verifies_with_nothing_but_json_and_ed25519(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """As docs/audit-chain.md tells an auditor writing their own verifier: no relay247 code."""
    async with http(server.http) as client:
        await live_trail(client, world, db)
        text = await export(client, world, country="JP")
        keys = await published(client, world.auditor)
    header = json.loads(text.splitlines()[0])
    assert text.splitlines()[0] == json.dumps(header, sort_keys=True, separators=(",", ":"))
    signature = base64.b64decode(header.pop("signature"))
    (key,) = [item for item in keys["items"] if item["key_id"] == header["key_id"]]
    raw = base64.b64decode(key["public_key"])
    assert hashlib.sha256(raw).hexdigest() == header["key_id"]
    signed = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, signed)  # raises if not
    assert datetime.fromisoformat(key["valid_from"]) <= datetime.fromisoformat(header["signed_at"])
    assert header["v"] == 2
    assert header["filters"] == {"country": "JP"}
    counted = [json.loads(line)["type"] for line in text.splitlines()]
    assert header["entries"] == counted.count("entry")
    assert header["links"] == counted.count("link")
    assert header["checkpoints"] == counted.count("relay247.audit.checkpoint")
