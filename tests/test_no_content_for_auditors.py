"""Auditors, network-wide or national, never see content, anywhere; and content never lands
where auditors look.

One request lives a whole exchange (content, a question with its reason, an answer in the
thread, a file, a legal hold). Then the auditor reads every endpoint that shows it, and the
event table and the audit trail are searched: none holds a single piece of the content.
"""

from __future__ import annotations

import asyncpg
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import World, make_national_auditor, request_body

SECRETS = {
    "subject": "Mailbox of Jan Kowalski-Secret",
    "details": "Kowalski negotiates for the LockStar crew from Gdansk",
    "identifier": "kowalski.secret@example.org",
    "legal_basis": "Investigation 2026/SECRET/118",
    "reason": "Which tenant ID did Kowalski use?",
    "message": "Tenant 7f3e-SECRET answered for Kowalski",
    "file_name": "kowalski-secret-chat.txt",
    "file_bytes": "chat log SECRET: kowalski pays 40 BTC",
    "hold": "Court order SECRET-77 on Kowalski",
}


@pytest.mark.parametrize("auditor_of", ["the network", "the target country"])
async def test_an_auditor_reads_every_view_of_a_request_and_finds_no_content(
    server: RunningServer,
    world: World,
    database: Database,
    db: asyncpg.Connection,
    auditor_of: str,
) -> None:
    national = await make_national_auditor(database, world, "DE")
    fr, de = world.unit("FR"), world.desk("DE")
    async with http(server.http) as client:
        body = request_body(
            "DE",
            subject=SECRETS["subject"],
            details=SECRETS["details"],
            identifiers=[{"kind": "email", "value": SECRETS["identifier"]}],
            legal_basis=SECRETS["legal_basis"],
        )
        created = await client.post("/v1/requests", json=body, headers=fr.headers)
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        base = f"/v1/requests/{rid}"
        calls = [
            client.post(f"{base}/ack", headers=de.headers),
            client.post(
                f"{base}/actions/request_info",
                json={"reason": SECRETS["reason"]},
                headers=de.headers,
            ),
            client.post(f"{base}/actions/provide_info", headers=fr.headers),
            client.post(
                f"{base}/messages",
                json={"text": SECRETS["message"], "source_reliability": "B"},
                headers=de.headers,
            ),
            client.post(
                f"{base}/files",
                params={"name": SECRETS["file_name"]},
                content=SECRETS["file_bytes"].encode(),
                headers=de.headers,
            ),
            client.put(
                f"{base}/legal-hold",
                json={"reason": SECRETS["hold"]},
                headers=world("FR", Role.NCB).headers,
            ),
        ]
        for call in calls:
            response = await call
            assert response.status_code in (200, 201), response.text
        file_id = (await client.get(f"{base}/files", headers=fr.headers)).json()["items"][0]["id"]

        auditor = (world.auditor if auditor_of == "the network" else national).headers
        seen = {
            path: await client.get(path, headers=auditor)
            for path in (
                base,
                "/v1/requests",
                f"{base}/history",
                f"{base}/messages",
                f"{base}/files",
                f"/v1/files/{file_id}",
                "/v1/audit/entries?limit=200",
            )
        }
        download = await client.get(f"/v1/files/{file_id}/content", headers=auditor)

    assert download.status_code == 403
    for path, response in seen.items():
        assert response.status_code == 200, (path, response.text)
        for name, secret in SECRETS.items():
            assert secret not in response.text, f"{name} shown to the auditor by GET {path}"

    # Pushes and the audit trail hold metadata and hashes only.
    events = "\n".join(str(row[0]) for row in await db.fetch("SELECT data FROM events"))
    audit = "\n".join(
        str(tuple(row)) for row in await db.fetch("SELECT details, object_id FROM audit_entries")
    )
    for name, secret in SECRETS.items():
        assert secret not in events, f"{name} in a push"
        assert secret not in audit, f"{name} in the audit trail"
