"""Four-eyes races and expiry, over a real server: of an approval and a cancel, two
approvals, or an approval and the expiry, exactly one wins and the other gets a 409
problem; the trail holds exactly one decision. The expiry is the deadline workers', made due
by the test (tests/deadlines.py), never waited for."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.core.settings import Settings
from app.models.enums import Role
from tests.clients import Dashboard, http
from tests.conftest import RunningServer, changed
from tests.deadlines import wake_workers
from tests.factories import Party, World
from tests.four_eyes import country_policy, decisions, hold, second_officer, sent_at_all
from tests.test_alert_fanout import reachable
from tests.waiting import beats, eventually

# Each race is run on this many held requests: the two calls overlap differently each time.
ROUNDS = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return changed(settings, outbox={"outbox_sender": False})


Call = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def approve_as(party: Party) -> Call:
    async def call(client: httpx.AsyncClient, approval_id: str) -> httpx.Response:
        return await client.post(f"/v1/approvals/{approval_id}/approve", headers=party.headers)

    return call


def cancel_as(party: Party) -> Call:
    async def call(client: httpx.AsyncClient, approval_id: str) -> httpx.Response:
        return await client.post(
            f"/v1/approvals/{approval_id}/cancel",
            json={"reason": "sent to the wrong country"},
            headers=party.headers,
        )

    return call


async def race(server: RunningServer, approval_id: str, one: Call, other: Call) -> list[int]:
    """The two calls at once, each on a client (a connection) of its own."""
    async with http(server.http) as first, http(server.http) as second:
        answers = await asyncio.gather(one(first, approval_id), other(second, approval_id))
    for answer in answers:
        if answer.status_code == 409:
            assert answer.headers["content-type"] == "application/problem+json"
            assert "already" in answer.json()["detail"]
    return [answer.status_code for answer in answers]


@pytest.mark.parametrize("contest", ["approve-vs-cancel", "two-approvers"])
async def test_exactly_one_of_two_at_once_wins(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection, contest: str
) -> None:
    requester, ncb = world.unit("FR"), world("FR", Role.NCB)
    approver = await second_officer(database, world)
    other = cancel_as(requester) if contest == "approve-vs-cancel" else approve_as(ncb)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = [await hold(client, requester) for _ in range(ROUNDS)]
    for approval in held:
        codes = await race(server, approval["id"], approve_as(approver), other)
        assert sorted(codes) == [200, 409], codes
        won = await decisions(db, approval["id"])
        assert len(won) == 1, won
        status = await db.fetchval(
            "SELECT status FROM approvals WHERE id = $1", uuid.UUID(approval["id"])
        )
        assert won == [f"approval.{status}"]
        sent = await sent_at_all(db, approval["id"])
        # Approved once: one request, submitted once; cancelled: nothing was ever sent.
        assert sent["requests"] == (1 if status == "approved" else 0)
        submitted = await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action = 'request.submitted' "
            "AND object_id = $1",
            approval["id"],
        )
        assert submitted == sent["requests"]
        decided_events = await db.fetchval(
            "SELECT count(DISTINCT type) FROM events WHERE request_id = $1 "
            "AND type IN ('approval.approved', 'approval.cancelled')",
            uuid.UUID(approval["id"]),
        )
        assert decided_events == 1


async def test_an_approval_racing_the_expiry_loses_to_it(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    """Its time up, the approval is refused whether the workers have expired it yet or not,
    and the workers expire it: one winner, the expiry."""
    approver = await second_officer(database, world)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = [await hold(client, world.unit("FR")) for _ in range(ROUNDS)]
        for approval in held:
            await db.execute(
                "UPDATE approvals SET expires_at = now() WHERE id = $1",
                uuid.UUID(approval["id"]),
            )
            answer, _ = await asyncio.gather(
                client.post(f"/v1/approvals/{approval['id']}/approve", headers=approver.headers),
                wake_workers(db),
            )
            assert answer.status_code == 409, answer.text
            assert answer.headers["content-type"] == "application/problem+json"

    async def all_expired() -> bool:
        return all([await decisions(db, a["id"]) == ["approval.expired"] for a in held])

    await eventually(all_expired)
    for approval in held:
        assert await sent_at_all(db, approval["id"]) == {
            "requests": 0,
            "deadlines": 0,
            "request_events": 0,
        }


async def test_an_approval_before_the_expiry_wins_and_the_expiry_does_nothing(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    approver = await second_officer(database, world)
    async with http(server.http) as client:
        await country_policy(client, world)
        approval = await hold(client, world.unit("FR"))
        approved = await client.post(
            f"/v1/approvals/{approval['id']}/approve", headers=approver.headers
        )
        assert approved.status_code == 200, approved.text
    await db.execute(
        "UPDATE approvals SET expires_at = now() WHERE id = $1", uuid.UUID(approval["id"])
    )
    await wake_workers(db)
    await beats(server.app, "deadlines.worker", 3)
    assert await decisions(db, approval["id"]) == ["approval.approved"]
    assert (await sent_at_all(db, approval["id"]))["requests"] == 1


async def test_an_undecided_request_expires_when_its_time_is_up_and_its_sender_is_told(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    requester = world.unit("FR")
    await reachable(db, requester)
    sender_screen = await Dashboard.open(server.ws, requester)
    async with http(server.http) as client:
        await country_policy(client, world)
        approval = await hold(client, requester)
        assert (await sender_screen.receive_event("approval.requested"))["data"][
            "approval_id"
        ] == approval["id"]
        # Not yet due: the workers leave it alone.
        await wake_workers(db)
        await beats(server.app, "deadlines.worker", 2)
        assert await decisions(db, approval["id"]) == []
        # Its time is up, as the test says.
        await db.execute(
            "UPDATE approvals SET expires_at = now() WHERE id = $1", uuid.UUID(approval["id"])
        )
        await wake_workers(db)
        expired = await sender_screen.receive_event("approval.expired", wait=10)
        assert expired["data"]["status"] == "expired"
        seen = (
            await client.get(f"/v1/approvals/{approval['id']}", headers=requester.headers)
        ).json()
        assert seen["status"] == "expired"
        assert seen["decided_by"] is None
        assert seen["content"] is None
    await sender_screen.close()
    entry = await db.fetchrow(
        "SELECT actor_principal_id, countries FROM audit_entries "
        "WHERE action = 'approval.expired' AND object_id = $1",
        approval["id"],
    )
    assert entry["actor_principal_id"] is None  # the service did it
    assert list(entry["countries"]) == ["FR"]
    told = await db.fetch(
        "SELECT principal_id, payload->'alert'->>'reason' AS reason FROM outbox_messages "
        "WHERE request_id = $1 AND event_type = 'approval.expired' AND route = 'email'",
        uuid.UUID(approval["id"]),
    )
    assert [(row["principal_id"], row["reason"]) for row in told] == [
        (requester.principal_id, "approval_expired")
    ]
    assert await sent_at_all(db, approval["id"]) == {
        "requests": 0,
        "deadlines": 0,
        "request_events": 0,
    }
