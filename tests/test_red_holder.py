"""TLP:RED content at the target is for the one contact point holding the request: not its
colleagues at the desk or in its agency, not the NCB. Through every route that shows content
(the request, the list, the thread, the files and their bytes, the history's reasons), and it
follows the request when it is handed on or escalated.

FR's unit sends to DE, whose desk (world.desk("DE")) is on duty and so holds the request; a
colleague sits in the same agency, another DE contact point in another agency.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from app.core.database import Database
from app.directory import agencies
from app.models.enums import AgencyKind, Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World, make_contact_point, make_party, make_rotation
from tests.test_escalation import backup_on_duty, use_policy
from tests.waiting import eventually

# What a reader of the content gets on each route, and what one who only sees the request gets.
READS = {
    "request": True,
    "list": True,
    "thread": [True],
    "files": [True],
    "file": True,
    "bytes": 200,
    "history": [True],
}
METADATA_ONLY = {
    "request": False,
    "list": False,
    "thread": [False],
    "files": [False],
    "file": False,
    "bytes": 403,
    "history": [False],
}


async def _ok(client: httpx.AsyncClient, party: Party, path: str) -> Any:
    response = await client.get(path, headers=party.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def reads(client: httpx.AsyncClient, party: Party, request_id: str) -> dict[str, Any]:
    """Whether ``party`` gets the content of the request, on each route that can show it."""
    base = f"/v1/requests/{request_id}"
    listed = {item["id"]: item for item in (await _ok(client, party, "/v1/requests"))["items"]}
    files = (await _ok(client, party, f"{base}/files"))["items"]
    file_id = files[0]["id"]
    history = (await _ok(client, party, f"{base}/history"))["items"]
    download = await client.get(f"/v1/files/{file_id}/content", headers=party.headers)
    return {
        "request": (await _ok(client, party, base))["content"] is not None,
        "list": listed[request_id]["content"] is not None,
        "thread": [
            m["text"] is not None for m in (await _ok(client, party, f"{base}/messages"))["items"]
        ],
        "files": [f["name"] is not None for f in files],
        "file": (await _ok(client, party, f"/v1/files/{file_id}"))["name"] is not None,
        "bytes": download.status_code,
        "history": [row["reason"] is not None for row in history if row["has_reason"]],
    }


async def other_agency_desk(database: Database) -> Party:
    """A DE contact point of another DE agency (a prosecutor's 24/7 desk, say)."""
    async with database.transaction() as session:
        agency = await agencies.create_agency(
            session, country="DE", kind=AgencyKind.UNIT, name="DE prosecutors"
        )
    return await make_party(
        database,
        agency_id=agency.id,
        country="DE",
        role=Role.CONTACT_POINT,
        name="DE prosecutor on duty",
    )


async def red_request(client: httpx.AsyncClient, world: World, holder: Party) -> str:
    """A TLP:RED request from FR to DE held by ``holder``, with a message and a file from the
    sender and a question (a reason in the history) from the holder."""
    unit = world.unit("FR")
    created = await submit_request(client, unit, "DE", handling_code="RED")
    assert created["assigned_to"] == str(holder.principal_id)
    request_id = str(created["id"])
    base = f"/v1/requests/{request_id}"
    for response in (
        await client.post(f"{base}/messages", json={"text": "The alias"}, headers=unit.headers),
        await client.post(
            f"{base}/files", params={"name": "mailbox.txt"}, content=b"x", headers=unit.headers
        ),
        await client.post(f"{base}/actions/acknowledge", headers=holder.headers),
        await client.post(
            f"{base}/actions/request_info", json={"reason": "Which alias?"}, headers=holder.headers
        ),
    ):
        assert response.status_code in (200, 201), response.text
    return request_id


async def test_red_content_is_the_holders_not_its_desks_and_follows_a_handover(
    server: RunningServer, world: World, database: Database
) -> None:
    holder = world.desk("DE")
    colleague = await make_contact_point(database, world, "DE", "DE colleague")
    elsewhere = await other_agency_desk(database)
    await make_rotation(database, "DE", [holder.principal_id])
    async with http(server.http) as client:
        request_id = await red_request(client, world, holder)
        answers = {
            who: await reads(client, party, request_id)
            for who, party in {
                "holder": holder,
                "colleague": colleague,
                "other agency": elsewhere,
                "DE NCB": world("DE", Role.NCB),
                "FR unit": world.unit("FR"),
                "GS": world.gs,
            }.items()
        }
        [file] = (await _ok(client, colleague, f"/v1/requests/{request_id}/files"))["items"]
        refused = await client.get(f"/v1/files/{file['id']}/content", headers=colleague.headers)

        handed = await client.post(
            f"/v1/requests/{request_id}/assign",
            json={"principal_id": str(colleague.principal_id)},
            headers=holder.headers,
        )
        assert handed.status_code == 200, handed.text
        after = {
            "new holder": await reads(client, colleague, request_id),
            "previous holder": await reads(client, holder, request_id),
        }

    assert answers == {
        "holder": READS,
        "colleague": METADATA_ONLY,
        "other agency": METADATA_ONLY,
        "DE NCB": METADATA_ONLY,
        "FR unit": READS,
        "GS": READS,
    }
    assert refused.json()["reason"] == "handling_code"
    assert "the contact point holding the request" in refused.json()["detail"]
    assert after == {"new holder": READS, "previous holder": METADATA_ONLY}


async def test_red_content_follows_an_escalation_to_the_backup(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    primary = world.desk("DE")
    backup = await backup_on_duty(database, world)
    async with http(server.http) as client:
        await use_policy(client, world, *[STEP_SECONDS] * 4)
        request_id = str(
            (await submit_request(client, world.unit("FR"), "DE", handling_code="RED"))["id"]
        )
        await bring_due(db, request_id, "ack")  # the primary let its time run out

        async def held_by_backup() -> bool:
            shown = await _ok(client, world("DE", Role.NCB), f"/v1/requests/{request_id}")
            return bool(shown["assigned_to"] == str(backup.principal_id))

        await eventually(held_by_backup)
        seen = {
            party.principal_id: (await _ok(client, party, f"/v1/requests/{request_id}"))["content"]
            for party in (primary, backup)
        }
    assert seen[backup.principal_id] is not None
    assert seen[primary.principal_id] is None
