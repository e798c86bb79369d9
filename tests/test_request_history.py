"""A request's history: every step in order, who took it, and the reasons to who may read
the request's content (an audited read); cursor pages; forged cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests.audit_trail import details, entries
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World

ASKED = "Which mailbox exactly: the address has two aliases"
ANSWERED = "The first alias, negotiator@example.org"


async def act(
    client: httpx.AsyncClient, party: Party, request_id: str, action: str, reason: str | None
) -> None:
    body = {"reason": reason} if reason else None
    response = await client.post(
        f"/v1/requests/{request_id}/actions/{action}", json=body, headers=party.headers
    )
    assert response.status_code == 200, response.text


async def lived(client: httpx.AsyncClient, world: World, **overrides: Any) -> str:
    """A request taken through its whole life: asked about, answered, responded, closed."""
    request_id = str((await submit_request(client, world.unit("FR"), **overrides))["id"])
    desk, unit = world("DE", Role.NCB), world.unit("FR")
    for party, action, reason in (
        (desk, "acknowledge", None),
        (desk, "request_info", ASKED),
        (unit, "provide_info", ANSWERED),
        (desk, "respond", None),
        (unit, "close", None),
    ):
        await act(client, party, request_id, action, reason)
    return request_id


async def history(
    client: httpx.AsyncClient, party: Party, request_id: str, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/requests/{request_id}/history", params=params, headers=party.headers
    )


async def test_the_history_tells_every_step_in_order_with_who_and_why(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        request_id = await lived(client, world)
        response = await history(client, world.unit("FR"), request_id)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    steps = [
        (i["action"], i["from_status"], i["to_status"], i["side"], i["reason"], i["has_reason"])
        for i in page["items"]
    ]
    assert steps == [
        (None, None, "submitted", "requester", None, False),
        ("acknowledge", "submitted", "acknowledged", "target", None, False),
        ("request_info", "acknowledged", "info_requested", "target", ASKED, True),
        ("provide_info", "info_requested", "in_progress", "requester", ANSWERED, True),
        ("respond", "in_progress", "responded", "target", None, False),
        ("close", "responded", "closed", "requester", None, False),
    ]
    ncb, unit = world("DE", Role.NCB), world.unit("FR")
    who = [(i["actor_principal_id"], i["actor_agency_id"]) for i in page["items"]]
    assert who == [
        (str(p.principal_id), str(p.agency_id)) for p in (unit, ncb, ncb, unit, ncb, unit)
    ]
    ids = [i["id"] for i in page["items"]]
    assert ids == sorted(ids)
    ats = [i["at"] for i in page["items"]]
    assert ats == sorted(ats)
    # The reasons were read: one audit entry for the call, with no text in it.
    [read] = await entries(database, "request.history_read", object_id=request_id)
    assert read.actor_principal_id == unit.principal_id
    assert details(read) == {"reasons_shown": 2}


async def test_the_auditor_sees_the_steps_but_no_reason_and_no_read_is_recorded(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        request_id = await lived(client, world)
        response = await history(client, world.auditor, request_id)
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 6
    assert [i["reason"] for i in items] == [None] * 6
    assert [i["has_reason"] for i in items] == [False, False, True, True, False, False]
    assert await entries(database, "request.history_read") == []


async def test_a_red_requests_reasons_are_kept_from_its_target_ncb(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        request_id = await lived(client, world, handling_code="RED")
        by_ncb = await history(client, world("DE", Role.NCB), request_id)
        by_gs = await history(client, world.gs, request_id)
        by_sender = await history(client, world.unit("FR"), request_id)
    # The NCB took the steps, but TLP:RED content is for the two agencies and the global desk.
    assert [i["reason"] for i in by_ncb.json()["items"]][2:4] == [None, None]
    assert [i["reason"] for i in by_gs.json()["items"]][2:4] == [ASKED, ANSWERED]
    assert [i["reason"] for i in by_sender.json()["items"]][2:4] == [ASKED, ANSWERED]
    readers = [e.actor_principal_id for e in await entries(database, "request.history_read")]
    assert readers == [world.gs.principal_id, world.unit("FR").principal_id]


async def test_a_purged_requests_reasons_are_shown_to_nobody(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = await lived(client, world)
        await db.execute("UPDATE requests SET purged_at = now() WHERE id = $1", request_id)
        response = await history(client, world.unit("FR"), request_id)
    assert [i["reason"] for i in response.json()["items"]] == [None] * 6


async def test_the_history_pages_with_cursors(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        request_id = await lived(client, world)
        whole = (await history(client, world.desk("DE"), request_id)).json()["items"]
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            page = (await history(client, world.desk("DE"), request_id, **params)).json()
            seen += page["items"]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert (pages, seen) == (2, whole)


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "%%%",
        _cursor({"p": 2**63}),
        _cursor({"p": -1}),
        _cursor({"p": "3"}),
        _cursor({"p": 3, "q": 1}),
        _cursor({"t": "2026-01-01T00:00:00Z", "i": "00000000-0000-0000-0000-000000000000"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "x" * 513,
    ],
)
async def test_a_forged_cursor_is_a_422(server: RunningServer, world: World, cursor: str) -> None:
    async with http(server.http) as client:
        request_id = str((await submit_request(client, world.unit("FR")))["id"])
        response = await history(client, world.unit("FR"), request_id, cursor=cursor)
    assert response.status_code == 422, response.text
    assert "cursor" in response.json()["detail"]


async def test_who_may_not_see_the_request_finds_no_history(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request_id = str((await submit_request(client, world.unit("FR")))["id"])
        other_desk = await history(client, world.desk("JP"), request_id)
        sending_ncb = await history(client, world("FR", Role.NCB), request_id)
    assert other_desk.status_code == 404
    # The sending country's NCB follows its country's requests, metadata only.
    assert sending_ncb.status_code == 200
    assert [i["action"] for i in sending_ncb.json()["items"]] == [None]
