"""A request's content hash is SHA-256 of the content's RFC 8785 form, the audit chain's own
canonical form; hashes written before, with the stdlib's sorted ``json.dumps``, are the same
values, so one RFC 8785 library reproduces every hash relay247 ever published (issue 21)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.sealer import seal_batch
from app.audit.verify import verify_database
from app.core.canonical import sha256_hex
from app.core.database import Database
from app.requests.schemas import RequestContentOut, RequestCreate
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World


def legacy_sha256_hex(value: Any) -> str:
    """How relay247 hashed content before this form was RFC 8785 (app/core/canonical.py up to
    commit b2e229d), kept here only to show what the rows written then hold."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def rfc8785_sha256_hex(value: Any) -> str:
    """What an auditor computes: the rfc8785 package alone, none of relay247's code."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


# Content as a request holds it, with what an encoder could write differently: escapes,
# DEL, U+2028, astral characters (surrogate pairs in UTF-16), U+E000 and U+FFFF.
CONTENT: dict[str, Any] = {
    "subject": 'Mailbox \U0001f4e7 of "the negotiator" \\ ops',
    "details": "Line one\u2028line two\ttab \x01\x1f\x7f \u00e9 \ue000 \uffff "
    "\U0001d11e \U0001f600",
    "identifiers": [
        {"kind": "account", "value": "n\u00e9gociateur\U0001f600"},
        {"kind": "email", "value": "negotiator@example.org"},
    ],
    "legal_basis": "Budapest Convention Art. 29 \u2014 \u00abpreservation\u00bb",
}
# CONTENT's hash as relay247 computed and stored it before the change (the code of commit
# b2e229d, run once to write this down).
HASH_WRITTEN_BEFORE = "d0969b7023b645049911633b5a4fa5e402ffae192f678da7e5e76a316f7d34df"


def test_a_hash_written_the_old_way_is_the_rfc8785_hash_of_its_content() -> None:
    assert legacy_sha256_hex(CONTENT) == HASH_WRITTEN_BEFORE
    assert sha256_hex(CONTENT) == HASH_WRITTEN_BEFORE
    assert rfc8785_sha256_hex(CONTENT) == HASH_WRITTEN_BEFORE


# What the API's Text lets into a string: anything but NUL and lone surrogates.
_AWKWARD = st.sampled_from(
    list('\x01\x1f\x7f"\\/\b\f\n\r\t\u2028\u2029\ue000\uffff\U0001f600\U0001d11eaZ\u00e9')
)
_STRING = st.text(_AWKWARD, max_size=8) | st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8
)
_CONTENT = st.fixed_dictionaries(
    {
        "subject": _STRING,
        "details": _STRING,
        "identifiers": st.lists(
            st.fixed_dictionaries({"kind": st.sampled_from(["ip", "email"]), "value": _STRING}),
            max_size=3,
        ),
        "legal_basis": _STRING,
    }
)


@settings(max_examples=500, deadline=None, database=None)
@given(_CONTENT)
def test_on_any_content_the_old_form_gives_rfc8785s_bytes(content: dict[str, Any]) -> None:
    assert legacy_sha256_hex(content) == sha256_hex(content) == rfc8785_sha256_hex(content)


def _nodes(schema: Any) -> list[dict[str, Any]]:
    """Every object of a JSON Schema document, $defs included (what $refs point to)."""
    if isinstance(schema, list):
        return [node for item in schema for node in _nodes(item)]
    if not isinstance(schema, dict):
        return []
    return [schema] + [node for value in schema.values() for node in _nodes(value)]


@pytest.mark.parametrize("model", [RequestContentOut, RequestCreate])
def test_what_is_hashed_holds_no_number_and_no_non_ascii_name(model: type[Any]) -> None:
    """Why no row needs a marker of its form: the two differ only on numbers and non-ASCII
    object keys, and neither the content (content_hash) nor the submission (the idempotency
    fingerprint) can hold one. A field that could would make old and new hashes differ:
    then rows need telling apart (docs/audit-chain.md, "Content hashes")."""
    nodes = _nodes(model.model_json_schema())
    names = [name for node in nodes for name in node.get("properties", {})]
    assert "value" in names  # the identifiers' members are looked at too
    assert all(name.isascii() for name in names), names
    assert not [node for node in nodes if node.get("type") in ("number", "integer")]


# Where the two forms differ, the hash is RFC 8785's. 1e21 is written alike by both.
DIFFERENT = {
    "astral key": {"\U0001f600": 1, "\ufb33": 2},  # UTF-16 order puts U+1F600 first
    "float 1e16": {"n": 1e16},
    "float 1.0": {"n": 1.0},
    "float 1e-7": {"n": 1e-7},
}


@pytest.mark.parametrize("case", list(DIFFERENT))
def test_where_the_forms_differ_the_hash_is_rfc8785s(case: str) -> None:
    document = DIFFERENT[case]
    assert legacy_sha256_hex(document) != rfc8785_sha256_hex(document)
    assert sha256_hex(document) == rfc8785_sha256_hex(document)


async def _seal_all(database: Database) -> None:
    while await seal_batch(database.engine) is not None:
        pass


async def test_a_new_request_is_hashed_with_rfc8785_and_tampering_shows(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), **CONTENT)
    assert created["content"] == CONTENT
    assert created["content_hash"] == rfc8785_sha256_hex(CONTENT) == HASH_WRITTEN_BEFORE

    # The chain seals the hash; an auditor recomputes it from the content the row holds.
    await _seal_all(database)
    position, sealed = await db.fetchrow(
        "SELECT chain_position, content_hash FROM audit_entries "
        "WHERE action = 'request.submitted' "
        "AND object_id = $1 AND chain_position IS NOT NULL",
        created["id"],
    )
    assert sealed == created["content_hash"]
    report = await verify_database(db)
    assert report.fault is None

    async def content_now() -> dict[str, Any]:
        row = await db.fetchrow(
            "SELECT subject, details, identifiers::text, legal_basis FROM requests WHERE id = $1",
            created["id"],
        )
        return {**dict(row), "identifiers": json.loads(row["identifiers"])}

    assert rfc8785_sha256_hex(await content_now()) == sealed
    # Content changed behind the service's back: it no longer gives the sealed hash.
    await db.execute("UPDATE requests SET details = details || '.' WHERE id = $1", created["id"])
    assert rfc8785_sha256_hex(await content_now()) != sealed
    # And the sealed hash changed to match: the chain says so.
    async with db.transaction():
        await db.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
        await db.execute(
            "UPDATE audit_entries SET content_hash = $1 WHERE chain_position = $2",
            rfc8785_sha256_hex(await content_now()),
            position,
        )
        await db.execute("ALTER TABLE audit_entries ENABLE TRIGGER ALL")
    report = await verify_database(db)
    assert report.fault is not None
    assert report.fault.position == position
