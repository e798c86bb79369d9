"""GET /v1/requests/{id}/receipts: a receipt signed by the service for each stage a request
passed, tied to the audit chain, verifiable offline with nothing but the published key."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit.sealer import SEAL_LOCK
from app.core.settings import Settings
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed
from tests.factories import World


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The server's signing key in the test's folder, not the checkout's data folder."""
    return changed(settings, audit={"audit_signing_key_file": tmp_path / "key.pem"})


def offline_verify(receipt: dict[str, Any], published: list[dict[str, Any]]) -> None:
    """As docs/audit-chain.md tells a recipient to: the public key whose SHA-256 is the
    receipt's key_id, the receipt without its signature in sorted compact JSON (ASCII keys,
    strings, integers and null only: the stdlib's output is RFC 8785's), Ed25519. No relay247
    code. Raises InvalidSignature."""
    (key,) = [key for key in published if key["key_id"] == receipt["key_id"]]
    public_key = base64.b64decode(key["public_key"])
    assert hashlib.sha256(public_key).hexdigest() == receipt["key_id"]
    unsigned = {name: value for name, value in receipt.items() if name != "signature"}
    signed = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    Ed25519PublicKey.from_public_bytes(public_key).verify(
        base64.b64decode(receipt["signature"]), signed
    )


async def receipts_when_sealed(
    client: httpx.AsyncClient, headers: dict[str, str], request_id: str
) -> list[dict[str, Any]]:
    for _ in range(60):
        response = await client.get(f"/v1/requests/{request_id}/receipts", headers=headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        if not any(item["pending"] for item in items):
            return items
        await asyncio.sleep(0.05)
    raise AssertionError("stages still pending after 3 s")


async def test_each_stage_has_a_receipt_that_verifies_offline_and_matches_the_chain(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    sender, desk = world.unit("FR"), world.desk("DE")
    async with http(server.http) as client:
        created = await submit_request(client, sender)
        request_id = created["id"]
        for party, path in (
            (desk, "ack"),
            (desk, "actions/start"),
            (desk, "actions/respond"),
            (sender, "actions/close"),
        ):
            response = await client.post(f"/v1/requests/{request_id}/{path}", headers=party.headers)
            assert response.status_code == 200, response.text
        items = await receipts_when_sealed(client, sender.headers, request_id)
        published = (await client.get("/v1/audit/public-keys", headers=sender.headers)).json()
    # "started" is a step of the history, not one of the stages receipts are given for.
    assert [item["stage"] for item in items] == ["submitted", "acknowledged", "responded", "closed"]
    entries = {
        row["chain_position"]: row
        for row in await db.fetch(
            "SELECT action, chain_position, chain_hash, content_hash FROM audit_entries "
            "WHERE object_id = $1",
            request_id,
        )
    }
    for item in items:
        receipt = item["receipt"]
        offline_verify(receipt, published["items"])
        entry = entries[receipt["position"]]
        assert entry["action"] == f"request.{item['stage']}"
        assert receipt["entry_hash"] == entry["chain_hash"]
        assert receipt["content_hash"] == entry["content_hash"] is not None
        assert (receipt["request_id"], receipt["stage"]) == (request_id, item["stage"])
        assert (receipt["v"], receipt["type"]) == (1, "relay247.audit.receipt")
    # Changed by one member, it no longer verifies: the stage, the position, the time.
    for member, value in (
        ("stage", "declined"),
        ("position", 1),
        ("at", items[0]["receipt"]["at"]),
    ):
        forged = {**items[-1]["receipt"], member: value}
        with pytest.raises(InvalidSignature):
            offline_verify(forged, published["items"])


async def test_a_stage_not_sealed_yet_is_pending_then_signed(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """The sealer held off (its advisory lock taken here): the submission's entry has no chain
    position yet, so there is nothing to sign it against."""
    sender = world.unit("FR")
    async with http(server.http) as client:
        await receipts_when_sealed(
            client, sender.headers, (await submit_request(client, sender))["id"]
        )
        await db.execute("SELECT pg_advisory_lock($1)", SEAL_LOCK)
        try:
            created = await submit_request(client, sender)
            response = await client.get(
                f"/v1/requests/{created['id']}/receipts", headers=sender.headers
            )
        finally:
            await db.execute("SELECT pg_advisory_unlock($1)", SEAL_LOCK)
        (item,) = response.json()["items"]
        assert (item["stage"], item["pending"], item["receipt"]) == ("submitted", True, None)
        (item,) = await receipts_when_sealed(client, sender.headers, created["id"])
    assert item["receipt"]["position"] >= 1


async def test_a_retired_key_on_this_instance_is_a_clear_503_not_a_500(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """Another instance rotated the key and this one's file was not replaced yet: signing
    must not happen under the retired key, and the caller is told why in a problem."""
    sender = world.unit("FR")
    async with http(server.http) as client:
        request_id = (await submit_request(client, sender))["id"]
        await receipts_when_sealed(client, sender.headers, request_id)  # the key is published
        await db.execute("UPDATE audit_signing_keys SET retired_at = now()")
        refused = await client.get(f"/v1/requests/{request_id}/receipts", headers=sender.headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:relay247:problem:unavailable"
    assert "signing key is retired" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "5"
