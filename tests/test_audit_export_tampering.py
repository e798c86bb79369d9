"""Tampered copies of real exports, each made the way a forger who knows the format would
(every line rewritten in its RFC 8785 form, the end line's counts made to agree), fail
`relay247 audit verify FILE` with exit 1 and a message naming the problem (issue 19, item
10): the service signs what an export asserts beyond the chain (its header: filters, range,
counts), and the verifier reads every line strictly."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import and_, select, text, true
from typer.testing import CliRunner

import app.audit.cli  # noqa: F401 (registers the audit commands)
from app.audit.chain import CHAIN_COLUMNS, ChainEntry, canonical_document
from app.audit.query import AuditFilter, authorize, conditions
from app.cli.app import cli
from app.core.canonical import jcs
from app.core.database import Database
from app.core.settings import Settings
from app.identity.auth import Actor
from app.models import AuditEntry
from app.models.enums import AgencyKind, Role
from tests.clients import http
from tests.conftest import RunningServer, changed
from tests.factories import Party, World, make_national_auditor
from tests.test_audit_export import all_sealed, live_trail, published

Lines = list[dict[str, Any]]


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


def swapped(filtered: Lines, unfiltered: Lines, *, hide: int, show: int) -> Lines:
    """The tester's forgery: the entry selected at position ``hide`` shown as its link, and
    the link at ``show`` replaced by the genuine entry the unfiltered export holds there. The
    counts stay those the header signs; every hash and the chain still hold."""
    genuine = {line["position"]: line for line in unfiltered if line["type"] == "entry"}
    forged = []
    for line in filtered:
        if line.get("position") == hide and line["type"] == "entry":
            line = {"type": "link", "position": hide, "digest": digest(line)}
        elif line.get("position") == show and line["type"] == "link":
            line = genuine[show]
        forged.append(line)
    return forged


async def export_as(client: httpx.AsyncClient, party: Party, **params: str) -> str:
    response = await client.get("/v1/audit/export", params=params, headers=party.headers)
    assert response.status_code == 200, response.text
    return response.text


async def test_a_selected_entry_hidden_as_a_link_behind_one_left_out_fails(
    server: RunningServer, world: World, db: asyncpg.Connection, database: Database, tmp_path: Path
) -> None:
    """The security tester's report: in a filtered export, an entry the filters select
    replaced by its link and a link by the genuine entry it stands for, which the filters
    leave out. Counts, hashes and checkpoints all hold; the entry shown whole matches none of
    the signed filters, which the verifier now checks for every entry, whatever the filter
    (the national auditor's own country, which it did not ask for, included)."""
    japan = await make_national_auditor(database, world, "JP")
    async with http(server.http) as client:
        await live_trail(client, world, db)
        until = datetime.now().astimezone().isoformat()
        unfiltered = parse(await export_as(client, world.auditor, until=until))
        request_id = next(
            line["object_id"]
            for line in unfiltered
            if line.get("action") == "request.submitted" and "FR" in line["countries"]
        )
        exports = {
            "country=FR": await export_as(client, world.auditor, country="FR", until=until),
            "action=request.read": await export_as(
                client, world.auditor, action="request.read", until=until
            ),
            f"request_id={request_id}": await export_as(
                client, world.auditor, request_id=request_id, until=until
            ),
            "country=JP": await export_as(client, japan, until=until),
        }
        keys = await published(client, world.auditor)
    for refused, exported in exports.items():
        code, output = verify(tmp_path, exported, keys)
        assert code == 0, (refused, output)
        lines = parse(exported)
        name, _, value = refused.partition("=")
        assert lines[0]["filters"][name] == value  # the national auditor's too
        hide = next(line["position"] for line in lines if line["type"] == "entry")
        show = next(line["position"] for line in lines if line["type"] == "link")
        forged = swapped(lines, unfiltered, hide=hide, show=show)
        counted = [line["type"] for line in forged]
        assert (counted.count("entry"), counted.count("link")) == (
            lines[0]["entries"],
            lines[0]["links"],
        )
        code, output = verify(tmp_path, write(forged), keys)
        assert code == 1, (refused, output)
        shown = next(n for n, line in enumerate(forged) if line.get("position") == show) + 1
        assert f"export FAULT at line {shown}, position {show}" in output, output
        assert f"an entry the signed filters leave out ({refused})" in output, output
        # Hidden without an entry to make up for it: the counts no longer are those signed.
        alone = swapped(lines, unfiltered, hide=hide, show=0)
        alone[-1] = end_of(alone)
        code, output = verify(tmp_path, write(alone), keys)
        assert code == 1, output
        assert "the export is not the one its header signs (entries" in output, output


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_anything_after_the_end_line_or_a_last_line_unended_fails(
    fmt: str, server: RunningServer, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Each line of both formats ends with \\n and nothing follows the end line, as
    docs/audit-chain.md writes them: a file of other bytes is not the one the service wrote."""
    async with http(server.http) as client:
        await live_trail(client, world, db)
        exported = await export(client, world, country="JP", format=fmt)
        keys = await published(client, world.auditor)
    assert exported.endswith("\n")
    assert not exported.endswith("\n\n")
    assert verify(tmp_path, exported, keys)[0] == 0
    last = exported.count("\n")
    for tampered, says, line in (
        (exported + "\n", "a line after the end line", last + 1),
        (exported + "\n\n\n", "a line after the end line", last + 1),
        (exported[:-1], "the end line has no line end", last),
    ):
        code, output = verify(tmp_path, tampered, keys)
        assert code == 1, output
        assert f"export FAULT at line {line}" in output, output
        assert says in output, output
    rows = exported.splitlines(keepends=True)
    rows.insert(3, "\n")
    code, output = verify(tmp_path, "".join(rows), keys)
    assert code == 1, output
    assert "export FAULT at line 4: an empty line" in output, output
    if fmt == "csv":
        # What a CSV reader takes as well, and the service never writes.
        rows = exported.splitlines(keepends=True)
        n = next(n for n, row in enumerate(rows) if row.startswith("entry,"))
        for row in (rows[n][:-1] + "\r\n", '"entry"' + rows[n][len("entry") :]):
            written = [*rows[:n], row, *rows[n + 1 :]]
            code, output = verify(tmp_path, "".join(written), keys)
            assert code == 1, output
            assert f"export FAULT at line {n + 1}: the row is not written as" in output, output


def actors(documents: dict[int, dict[str, Any]], member: str) -> list[uuid.UUID]:
    return sorted({uuid.UUID(doc[member]) for doc in documents.values() if doc[member]})


async def test_the_python_filter_selects_exactly_what_the_sql_selects(
    server: RunningServer, world: World, db: asyncpg.Connection, database: Database
) -> None:
    """AuditFilter.refused_by (what the offline verifier checks each entry of an export
    against) and conditions() (what the service selects them with) over real entries and
    many filters, read back from what an export's header states: the two never differ."""
    async with http(server.http) as client:
        await live_trail(client, world, db)
        request_id = await db.fetchval(
            "SELECT object_id FROM audit_entries WHERE object_type = 'request' LIMIT 1"
        )
        posted = await client.post(
            f"/v1/requests/{request_id}/messages",
            json={"text": "preserved"},
            headers=world.desk("DE").headers,
        )
        assert posted.status_code in (200, 201), posted.text
        await all_sealed(db)
    async with database.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(text(CHAIN_COLUMNS))
                .select_from(AuditEntry)
                .where(AuditEntry.chain_position.is_not(None))
            )
        ).all()
        documents = {row.id: canonical_document(ChainEntry.of(row)) for row in rows}
        assert any("request_id" in doc["details"] for doc in documents.values())
        times = sorted(datetime.fromisoformat(doc["occurred_at"]) for doc in documents.values())
        instants = [None, times[0], times[len(times) // 2], times[-1] + timedelta(microseconds=1)]
        instants.append(times[len(times) // 3] - timedelta(microseconds=1))
        stranger = uuid.uuid4()
        choices: dict[str, list[Any]] = {
            "since": instants,
            "until": instants,
            "country": [None, "DE", "FR", "JP", "US"],
            "agency_id": [None, stranger, *actors(documents, "actor_agency_id")],
            "principal_id": [None, stranger, *actors(documents, "actor_principal_id")],
            "request_id": [None, stranger, uuid.UUID(request_id)],
            "action": [None, "request.read", "request.submitted", "message.posted", "nothing"],
        }
        # Every filter alone and every pair (each bound at an entry's own time, both sides of
        # it), and a random draw of every filter at once.
        every = [
            dict(zip(choices, values, strict=True))
            for values in itertools.product(*choices.values())
        ]
        sample = [given for given in every if sum(v is not None for v in given.values()) <= 2]
        sample += random.Random(19).sample(every, 100)
        national = Actor(
            uuid.uuid4(),
            uuid.uuid4(),
            uuid.uuid4(),
            "FR",
            Role.NATIONAL_AUDITOR,
            "FR",
            AgencyKind.NCB,
        )
        selected_some = tried = 0
        for given, actor in itertools.product(sample, (None, national)):
            if actor is not None and given["country"] not in (None, "FR"):
                continue  # 403 for another country
            tried += 1
            filters = authorize(actor, AuditFilter(**given))
            clauses = conditions(actor, filters)
            in_sql = set(
                (
                    await connection.scalars(
                        select(AuditEntry.id).where(
                            AuditEntry.chain_position.is_not(None),
                            and_(*clauses) if clauses else true(),
                        )
                    )
                ).all()
            )
            stated = AuditFilter.from_described(json.loads(json.dumps(filters.described())))
            assert stated == filters
            in_python = {entry_id for entry_id, doc in documents.items() if stated.matches(doc)}
            assert in_python == in_sql, (filters, actor)
            selected_some += 0 < len(in_sql) < len(documents)
    # The filters were not all trivial (selecting all or nothing): how many select some of
    # the trail depends on how the world's entries fall in time, so a share, not a number.
    assert selected_some > tried // 8, (selected_some, tried)
