"""Signed checkpoints of the audit chain: the signed bytes, `relay247 audit checkpoint`,
`relay247 audit verify --db --checkpoints FILE` against a superuser's rewrite, key rotation,
the checkpointer loop, the published keys."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import make_url

from app.audit.chain import CHAIN_COLUMNS, GENESIS, ChainEntry, next_hash
from app.audit.checkpoints import Checkpoint, sign, take
from app.audit.keys import KeyHolder, SigningKey, load_or_create_key, rotate_key
from app.core.database import Database
from app.core.database.urls import asyncpg_dsn
from app.core.settings import Settings
from tests.cli_runner import invoke
from tests.clients import http
from tests.conftest import TEST_DATABASE, RunningServer, changed, running_server
from tests.factories import World
from tests.processes import environment
from tests.scrape import value
from tests.test_audit_chain import seal_all, service_role_sql, write_entries
from tests.waiting import beats


class Files:
    """The key file and checkpoint file of one test, outside the repository."""

    def __init__(self, folder: Path) -> None:
        self.key = folder / "keys" / "audit-signing-key.pem"
        self.checkpoints = folder / "audit-checkpoints.ndjson"

    def env(self, database_url: str) -> dict[str, str]:
        return environment(
            DATABASE_URL=database_url,
            RELAY247_AUDIT_SIGNING_KEY_FILE=str(self.key),
            RELAY247_AUDIT_CHECKPOINT_FILE=str(self.checkpoints),
        )

    def lines(self) -> list[str]:
        return self.checkpoints.read_text().splitlines()


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


async def checkpoint_cli(files: Files, database_url: str) -> Checkpoint:
    code, stdout, stderr = await invoke("audit", "checkpoint", env=files.env(database_url))
    assert code == 0, stdout + stderr
    return Checkpoint.parse(stdout.strip())


async def verify_cli(
    files: Files, database_url: str, *, external: Path | None = None
) -> tuple[int, str]:
    args = ["audit", "verify", "--db"]
    if external is not None:
        args += ["--checkpoints", str(external)]
    code, stdout, stderr = await invoke(*args, env=files.env(database_url))
    assert stderr == "", stderr
    return code, stdout


async def without_triggers(db: asyncpg.Connection, table: str, *statements: str) -> None:
    """What a superuser can do (docs/audit-chain.md): switch the triggers off and rewrite."""
    async with db.transaction():
        await db.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        for statement in statements:
            await db.execute(statement)
        await db.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")


async def rehash_from(db: asyncpg.Connection, position: int) -> None:
    """A superuser's careful rewrite: every hash from ``position`` on recomputed, so the chain
    itself holds again and `verify --db` finds nothing wrong with it."""
    rows = await db.fetch(
        f"SELECT {CHAIN_COLUMNS} FROM audit_entries "  # noqa: S608 (a constant column list)
        "WHERE chain_position >= $1 - 1 ORDER BY chain_position",
        position,
    )
    entries = [ChainEntry.of(row) for row in rows]
    previous = GENESIS if position == 1 else bytes.fromhex(entries.pop(0).chain_hash or "")
    hashes = []
    for entry in entries:
        previous = next_hash(previous, entry)
        hashes.append((previous.hex(), entry.chain_position))
    async with db.transaction():
        await db.execute("ALTER TABLE audit_entries DISABLE TRIGGER ALL")
        await db.executemany(
            "UPDATE audit_entries SET chain_hash = $1 WHERE chain_position = $2", hashes
        )
        await db.execute("ALTER TABLE audit_entries ENABLE TRIGGER ALL")


# --- the signed bytes ---------------------------------------------------------------------


def test_the_signed_bytes_are_byte_exact_and_verify_with_the_public_key_alone() -> None:
    """What docs/audit-chain.md documents, written out by hand: RFC 8785 JSON of six members,
    the time in UTC with microseconds, signed with Ed25519; the file's line adds the signature
    in base64."""
    key = SigningKey.generate()
    signed_at = datetime(2026, 11, 23, 3, 4, 5, 6, tzinfo=UTC)
    checkpoint = sign(key, position=42, chain_hash="ab" * 32, signed_at=signed_at)
    expected = (
        f'{{"hash":"{"ab" * 32}","key_id":"{key.key_id}","position":42,'
        '"signed_at":"2026-11-23T03:04:05.000006Z","type":"relay247.audit.checkpoint","v":1}'
    ).encode()
    assert checkpoint.signed_bytes() == expected
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(checkpoint.signature, expected)
    line = json.loads(checkpoint.line())
    assert base64.b64decode(line.pop("signature")) == checkpoint.signature
    assert json.dumps(line, sort_keys=True, separators=(",", ":")).encode() == expected
    assert Checkpoint.parse(checkpoint.line()) == checkpoint
    # The key id pins the key: the SHA-256 of the raw public key.
    assert key.key_id == hashlib.sha256(key.public_key).hexdigest()
    assert repr(key) == f"SigningKey(key_id={key.key_id!r})"  # nothing private, if logged


def test_the_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "key.pem"
    first = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path).key_id == first.key_id
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]  # no temporary left


# --- on demand, and verify ------------------------------------------------------------------


async def test_a_checkpoint_is_stored_printed_appended_and_verifies(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    await write_entries(database, 5)
    await seal_all(database)
    printed = await checkpoint_cli(files, database_url)
    head = await db.fetchrow(
        "SELECT chain_position, chain_hash FROM audit_entries ORDER BY chain_position DESC LIMIT 1"
    )
    assert (printed.position, printed.hash) == (5, head["chain_hash"])
    assert files.lines() == [printed.line()]
    row = await db.fetchrow("SELECT * FROM audit_checkpoints")
    assert (row["chain_position"], row["key_id"]) == (5, printed.key_id)
    assert bytes(row["signature"]) == printed.signature
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    published = await db.fetchrow("SELECT * FROM audit_signing_keys")
    assert published["key_id"] == printed.key_id
    assert printed.verifies_under(bytes(published["public_key"]))

    code, stdout = await verify_cli(files, database_url, external=files.checkpoints)
    assert code == 0, stdout
    assert "checkpoints in the database: 1 verified, the last at position 5" in stdout
    assert f"checkpoints in {files.checkpoints}: 1 verified" in stdout


async def test_nothing_sealed_nothing_signed(database_url: str, files: Files) -> None:
    code, _, stderr = await invoke("audit", "checkpoint", env=files.env(database_url))
    assert code == 1
    assert "no entry is sealed yet" in stderr


async def test_a_tail_cut_off_by_a_superuser_is_caught_by_the_row_and_by_the_file(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    await write_entries(database, 6)
    await seal_all(database)
    await checkpoint_cli(files, database_url)
    # The last two entries deleted: what remains is a chain that holds, positions 1 to 4.
    await without_triggers(db, "audit_entries", "DELETE FROM audit_entries WHERE id > 4")
    code, stdout = await verify_cli(files, database_url)
    assert code == 1, stdout
    assert "audit chain verified: 4 entries" in stdout
    assert (
        "checkpoint FAULT at checkpoint id 1 (position 6): the chain ends at position 4" in stdout
    )
    # The superuser deletes the checkpoint row too: the database alone now looks whole...
    await without_triggers(db, "audit_checkpoints", "DELETE FROM audit_checkpoints")
    code, stdout = await verify_cli(files, database_url)
    assert code == 0, stdout
    # ...but not next to the file kept outside it.
    code, stdout = await verify_cli(files, database_url, external=files.checkpoints)
    assert code == 1, stdout
    assert (
        f"checkpoint FAULT at {files.checkpoints} line 1 (position 6): the chain ends at "
        "position 4, before this signed position" in stdout
    )


async def test_an_entry_rewritten_before_a_checkpoint_with_every_hash_recomputed_is_caught(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    await write_entries(database, 6)
    await seal_all(database)
    await checkpoint_cli(files, database_url)
    await without_triggers(
        db, "audit_entries", "UPDATE audit_entries SET actor_role = 'gs' WHERE chain_position = 3"
    )
    await rehash_from(db, 3)
    code, stdout = await verify_cli(files, database_url, external=files.checkpoints)
    assert code == 1, stdout
    assert "audit chain verified: 6 entries" in stdout  # the chain alone cannot tell
    new_head = await db.fetchval("SELECT chain_hash FROM audit_entries WHERE chain_position = 6")
    assert (
        f"checkpoint FAULT at checkpoint id 1 (position 6): the chain's hash here is {new_head}"
        in stdout
    )
    assert "the chain was rewritten at or before this position" in stdout
    assert f"checkpoint FAULT at {files.checkpoints} line 1 (position 6)" in stdout


async def test_an_entry_changed_before_a_checkpoint_without_rehashing_is_caught_by_the_chain(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    await write_entries(database, 4)
    await seal_all(database)
    await checkpoint_cli(files, database_url)
    await without_triggers(
        db, "audit_entries", "UPDATE audit_entries SET object_id = 'x' WHERE chain_position = 2"
    )
    code, stdout = await verify_cli(files, database_url, external=files.checkpoints)
    assert code == 1, stdout
    assert "audit chain FAULT at position 2 (entry id 2): changed after sealing" in stdout


def _forged(good: Checkpoint, how: str) -> str:
    other = SigningKey.generate()
    if how == "unpublished key":
        return sign(
            other, position=good.position, chain_hash=good.hash, signed_at=good.signed_at
        ).line()
    if how == "another key under the published id":
        forged = sign(other, position=good.position, chain_hash=good.hash, signed_at=good.signed_at)
        return Checkpoint(
            good.position, good.hash, good.signed_at, good.key_id, forged.signature
        ).line()
    assert how == "changed after signing"
    return Checkpoint(
        good.position - 1, good.hash, good.signed_at, good.key_id, good.signature
    ).line()


FORGERIES = {
    "unpublished key": "which is not published",
    "another key under the published id": "its signature does not verify under key",
    "changed after signing": "its signature does not verify under key",
}


@pytest.mark.parametrize("how", list(FORGERIES))
async def test_a_checkpoint_not_signed_by_its_published_key_is_refused_naming_the_first(
    database: Database, database_url: str, files: Files, tmp_path: Path, how: str
) -> None:
    await write_entries(database, 3)
    await seal_all(database)
    good = await checkpoint_cli(files, database_url)
    external = tmp_path / "kept-elsewhere.ndjson"
    external.write_text(f"{good.line()}\n\n{_forged(good, how)}\n{good.line()}\n")
    code, stdout = await verify_cli(files, database_url, external=external)
    assert code == 1, stdout
    assert f"checkpoint FAULT at {external} line 3 (position" in stdout
    assert FORGERIES[how] in stdout
    assert "1 checkpoints before it verified" in stdout


async def test_a_row_signed_by_another_key_is_refused(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    """A superuser who adds a checkpoint of their own under the published key's id."""
    await write_entries(database, 3)
    await seal_all(database)
    good = await checkpoint_cli(files, database_url)
    forged = sign(SigningKey.generate(), position=2, chain_hash="00" * 32, signed_at=good.signed_at)
    await db.execute(
        "INSERT INTO audit_checkpoints (v, chain_position, chain_hash, signed_at, key_id, "
        "signature) VALUES (1, 2, $1, $2, $3, $4)",
        forged.hash,
        forged.signed_at,
        good.key_id,
        forged.signature,
    )
    code, stdout = await verify_cli(files, database_url)
    assert code == 1, stdout
    assert (
        "checkpoint FAULT at checkpoint id 2 (position 2): its signature does not verify" in stdout
    )


async def test_a_file_line_that_is_not_a_checkpoint_is_a_fault(
    database: Database, database_url: str, files: Files, tmp_path: Path
) -> None:
    external = tmp_path / "garbage.ndjson"
    external.write_text('{"v": 1}\n')
    code, stdout = await verify_cli(files, database_url, external=external)
    assert code == 1, stdout
    assert f"checkpoint FAULT at {external} line 1: not a checkpoint" in stdout


# --- rotation ------------------------------------------------------------------------------


async def test_rotation_starts_a_new_key_and_old_checkpoints_stay_verifiable(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    await write_entries(database, 2)
    await seal_all(database)
    old = await checkpoint_cli(files, database_url)
    code, stdout, stderr = await invoke("audit", "rotate-key", env=files.env(database_url))
    assert code == 0, stdout + stderr
    new_id = load_or_create_key(files.key).key_id
    assert f"new signing key {new_id}" in stdout
    assert f"retired key {old.key_id}" in stdout
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    await write_entries(database, 2, start=2)
    await seal_all(database)
    new = await checkpoint_cli(files, database_url)
    assert new.key_id == new_id != old.key_id
    keys = {
        row["key_id"]: row
        for row in await db.fetch("SELECT key_id, valid_from, retired_at FROM audit_signing_keys")
    }
    assert keys[old.key_id]["retired_at"] == keys[new_id]["valid_from"]
    assert keys[new_id]["retired_at"] is None
    code, stdout = await verify_cli(files, database_url, external=files.checkpoints)
    assert code == 0, stdout
    assert "checkpoints in the database: 2 verified, the last at position 4" in stdout
    assert f"checkpoints in {files.checkpoints}: 2 verified" in stdout


async def test_a_retired_key_signs_nothing(
    database: Database, database_url: str, files: Files, tmp_path: Path
) -> None:
    await write_entries(database, 1)
    await seal_all(database)
    await checkpoint_cli(files, database_url)
    kept = tmp_path / "old-key.pem"
    kept.write_bytes(files.key.read_bytes())
    await rotate_key(database, files.key)
    env = files.env(database_url) | {"RELAY247_AUDIT_SIGNING_KEY_FILE": str(kept)}
    code, _, stderr = await invoke("audit", "checkpoint", env=env)
    assert code == 1
    assert "was retired at" in stderr


async def test_the_tables_are_append_only_but_for_a_keys_retirement(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    await write_entries(database, 1)
    await seal_all(database)
    await checkpoint_cli(files, database_url)
    for statement in (
        "UPDATE audit_checkpoints SET chain_position = 9",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
        "DELETE FROM audit_signing_keys",
        "UPDATE audit_signing_keys SET public_key = public_key || ''",
        "UPDATE audit_signing_keys SET retired_at = now(), valid_from = now() - interval '1 day'",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(statement)
    await db.execute("UPDATE audit_signing_keys SET retired_at = now()")  # the retirement
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute("UPDATE audit_signing_keys SET retired_at = NULL")


# --- the running service -------------------------------------------------------------------


async def test_the_checkpointer_signs_when_the_head_moved_and_follows_a_rotation(
    world: World,
    database: Database,
    database_url: str,
    db: asyncpg.Connection,
    files: Files,
    settings: Settings,
) -> None:
    often = changed(
        settings,
        audit={
            "audit_checkpoint_interval": timedelta(seconds=0.2),
            "audit_signing_key_file": files.key,
            "audit_checkpoint_file": files.checkpoints,
        },
    )

    async def checkpoint_at(position: int, key_id: str | None = None) -> None:
        for _ in range(100):
            if await db.fetchval(
                "SELECT count(*) FROM audit_checkpoints WHERE chain_position = $1 "
                "AND ($2::text IS NULL OR key_id = $2)",
                position,
                key_id,
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no checkpoint at {position} by {key_id or 'any key'} in 5 s")

    # The world wrote entries of its own: the head is wherever they and these three end.
    await write_entries(database, 3)
    await seal_all(database)
    head = await db.fetchval("SELECT max(chain_position) FROM audit_entries")
    async with running_server(database_url, often) as server, http(server.http) as client:
        await checkpoint_at(head)
        # Two more rounds: the head did not move, nothing signed.
        await beats(server.app, "audit.checkpointer", 2)
        assert await db.fetchval("SELECT count(*) FROM audit_checkpoints") == 1
        first_key = load_or_create_key(files.key).key_id
        rotation = await rotate_key(database, files.key)
        await write_entries(database, 2, start=3)  # sealed by the server's sealer
        await checkpoint_at(head + 2, rotation.new_key.key_id)
        ready = (await client.get("/readyz")).json()
        metrics = (await client.get("/metrics")).text
        keys = await client.get("/v1/audit/public-keys", headers=world.auditor.headers)
    assert ready["loops"]["audit.checkpointer"]["state"] == "up"
    assert value(metrics, "relay247_audit_checkpoints_total") == 2
    assert value(metrics, "relay247_audit_checkpoint_position") == head + 2
    assert value(metrics, "relay247_loop_restarts_total", loop="audit.checkpointer") == 0
    assert [key["key_id"] for key in keys.json()["items"]] == [first_key, rotation.new_key.key_id]
    assert [Checkpoint.parse(line).position for line in files.lines()] == [head, head + 2]
    code, stdout = await verify_cli(files, database_url, external=files.checkpoints)
    assert code == 0, stdout


async def test_the_published_keys_verify_a_checkpoint_offline(
    world: World, database: Database, database_url: str, files: Files, server: RunningServer
) -> None:
    await write_entries(database, 2)
    await seal_all(database)
    checkpoint = await checkpoint_cli(files, database_url)
    async with http(server.http) as client:
        anonymous = await client.get("/v1/audit/public-keys")
        published = await client.get("/v1/audit/public-keys", headers=world.unit("FR").headers)
    assert anonymous.status_code == 401
    assert published.status_code == 200
    (key,) = published.json()["items"]
    assert key["algorithm"] == "Ed25519"
    assert key["retired_at"] is None
    # Only what the endpoint gave and the line, as docs/audit-chain.md says: no database,
    # no relay247 code (the line holds no float and only ASCII keys: the stdlib's JSON is
    # RFC 8785's there).
    line = json.loads(checkpoint.line())
    signature = base64.b64decode(line.pop("signature"))
    signed = json.dumps(line, sort_keys=True, separators=(",", ":")).encode()
    Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"])).verify(
        signature, signed
    )
    assert key["key_id"] == hashlib.sha256(base64.b64decode(key["public_key"])).hexdigest()


async def test_the_documented_service_role_signs_and_rotates_but_cannot_rewrite_checkpoints(
    database: Database, database_url: str, db: asyncpg.Connection, files: Files
) -> None:
    """docs/audit-chain.md's service-role block covers the new tables: the role signs, publishes
    and retires keys, and can neither change nor delete a checkpoint or a key."""
    role = f"{TEST_DATABASE}_ckpt_service"
    exists = await db.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    if exists:
        await db.execute(f'DROP OWNED BY "{role}"')
        await db.execute(f'DROP ROLE "{role}"')
    for statement in service_role_sql(role, TEST_DATABASE):
        await db.execute(statement)
    service_url = (
        make_url(database_url)
        .set(username=role, password="change-me")
        .render_as_string(hide_password=False)
    )
    await write_entries(database, 2)
    await seal_all(database)
    service_db = Database(service_url, pool_size=1, max_overflow=0)
    try:
        key = load_or_create_key(files.key)
        async with service_db.engine.begin() as connection:
            signed = await take(connection, KeyHolder(files.key), only_if_moved=True, wait=True)
        assert signed is not None
        rotation = await rotate_key(service_db, files.key)
        assert rotation.retired == [key.key_id]
        service = await asyncpg.connect(asyncpg_dsn(service_url))
        try:
            for attempt, refusal in (
                ("ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL", "must be owner"),
                ("DELETE FROM audit_checkpoints", "permission denied"),
                ("UPDATE audit_checkpoints SET chain_hash = chain_hash", "permission denied"),
                ("TRUNCATE audit_signing_keys", "permission denied"),
                ("DELETE FROM audit_signing_keys", "permission denied"),
                ("UPDATE audit_signing_keys SET public_key = public_key", "permission denied"),
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match=refusal):
                    await service.execute(attempt)
        finally:
            await service.close()
    finally:
        await service_db.dispose()
        await db.execute(f'DROP OWNED BY "{role}"')
        await db.execute(f'DROP ROLE "{role}"')
    code, stdout = await verify_cli(files, database_url)
    assert code == 0, stdout


async def test_a_retired_key_that_leaked_cannot_sign_a_valid_checkpoint(
    database: Database, database_url: str, files: Files, tmp_path: Path
) -> None:
    """Rotation because the old key leaked: a checkpoint it signs afterwards, dated after its
    retirement, is refused; one dated before would have to name a hash the chain had then."""
    await write_entries(database, 2)
    await seal_all(database)
    await checkpoint_cli(files, database_url)
    leaked = load_or_create_key(files.key)
    rotation = await rotate_key(database, files.key)
    assert rotation.retired == [leaked.key_id]
    head = Checkpoint.parse(files.lines()[0])
    late = sign(leaked, position=head.position, chain_hash=head.hash, signed_at=datetime.now(UTC))
    external = tmp_path / "late.ndjson"
    external.write_text(late.line() + "\n")
    code, stdout = await verify_cli(files, database_url, external=external)
    assert code == 1, stdout
    assert f"checkpoint FAULT at {external} line 1 (position 2): signed at" in stdout
    assert f"outside the validity of key {leaked.key_id}" in stdout


async def test_a_published_key_replaced_under_its_id_is_caught(
    database: Database, db: asyncpg.Connection, database_url: str, files: Files
) -> None:
    """A superuser swaps the public key behind the published id (and re-signs every row with
    their own key): the id is the fingerprint of the key, so the swap shows."""
    await write_entries(database, 2)
    await seal_all(database)
    good = await checkpoint_cli(files, database_url)
    theirs = SigningKey.generate()
    resigned = sign(theirs, position=good.position, chain_hash=good.hash, signed_at=good.signed_at)
    forged = Checkpoint(good.position, good.hash, good.signed_at, good.key_id, resigned.signature)
    async with db.transaction():
        await db.execute("ALTER TABLE audit_signing_keys DISABLE TRIGGER ALL")
        await db.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL")
        await db.execute("UPDATE audit_signing_keys SET public_key = $1", theirs.public_key)
        await db.execute("UPDATE audit_checkpoints SET signature = $1", forged.signature)
        await db.execute("ALTER TABLE audit_signing_keys ENABLE TRIGGER ALL")
        await db.execute("ALTER TABLE audit_checkpoints ENABLE TRIGGER ALL")
    code, stdout = await verify_cli(files, database_url)
    assert code == 1, stdout
    assert (
        f"checkpoint FAULT at checkpoint id 1 (position 2): the published public key of key "
        f"{good.key_id} is not the key of that id (replaced)" in stdout
    )
