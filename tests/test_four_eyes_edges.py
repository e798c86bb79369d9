"""Four-eyes at its edges, over a real server: bad input is a problem+json 4xx, never a 500;
a submit of any other type pays nothing for four-eyes; the approvers' alert reads as one to
approve, with no content and no acknowledge link."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import event

from app.alerts import push_payloads, wording
from app.core.database import Database
from app.core.service_secret import ServiceSecret
from app.core.settings import Settings
from app.models.enums import Role
from app.outbox.couriers import Leased
from tests.clients import http
from tests.conftest import RunningServer, changed
from tests.factories import World, request_body
from tests.four_eyes import country_policy, emergency_body, hold, second_officer
from tests.test_alert_fanout import reachable


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The alerts stay in the outbox as written, for the test to read.
    return changed(settings, outbox={"outbox_sender": False})


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("POST", "/refuse", {}, 422),
        ("POST", "/refuse", {"reason": "   "}, 422),
        ("POST", "/refuse", {"reason": "x" * 501}, 422),
        ("POST", "/approve", {"reason": "ok", "extra": 1}, 422),
        ("POST", "/approve", [1, 2], 422),
        ("POST", "/cancel", {"reason": 5}, 422),
    ],
    ids=["no-reason", "blank-reason", "long-reason", "extra-field", "not-an-object", "bad-type"],
)
async def test_bad_input_is_a_problem(
    server: RunningServer,
    world: World,
    database: Database,
    method: str,
    suffix: str,
    body: object,
    status: int,
) -> None:
    approver = await second_officer(database, world)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, world.unit("FR"))
        answer = await client.request(
            method, f"/v1/approvals/{held['id']}{suffix}", json=body, headers=approver.headers
        )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/approvals/not-a-uuid", 422),
        (f"/v1/approvals/{uuid.UUID(int=7)}", 404),
        ("/v1/approvals?status=pending", 422),
        ("/v1/approvals?cursor=forged", 422),
        ("/v1/approvals?limit=0", 422),
    ],
    ids=["bad-id", "unknown-id", "bad-status", "forged-cursor", "bad-limit"],
)
async def test_bad_reads_are_problems(
    server: RunningServer, world: World, path: str, status: int
) -> None:
    async with http(server.http) as client:
        answer = await client.get(path, headers=world("FR", Role.NCB).headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


async def test_four_eyes_switches_may_not_be_null(server: RunningServer, world: World) -> None:
    ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        agreement = (await client.get("/v1/agreements", headers=ncb.headers)).json()["items"][0]
        answers = [
            await client.patch("/v1/countries/FR", json={"four_eyes": None}, headers=ncb.headers),
            await client.patch(
                f"/v1/agreements/{agreement['id']}", json={"four_eyes": None}, headers=ncb.headers
            ),
            await client.patch(
                "/v1/countries/FR", json={"four_eyes": "maybe"}, headers=ncb.headers
            ),
        ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "four_eyes" in answer.text


async def test_only_an_emergency_disclosure_pays_a_four_eyes_query_on_submit(
    server: RunningServer, world: World
) -> None:
    """The submit hot path: any other type runs the statements it ran before four-eyes
    (a comparison in Python decides); an emergency disclosure without four-eyes one more."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = server.app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with http(server.http) as client:
            counted: dict[str, list[str]] = {}
            for kind, body in (
                ("preservation", request_body("DE")),
                ("emergency", emergency_body("DE")),
            ):
                statements.clear()
                answer = await client.post(
                    "/v1/requests", json=body, headers=world.unit("FR").headers
                )
                assert answer.status_code == 201, answer.text
                # (The deadline workers' look at approvals' expiry runs beside, unrelated.)
                counted[kind] = [s for s in statements if "four_eyes" in s]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert counted["preservation"] == []
    assert len(counted["emergency"]) == 1


async def test_the_approvers_alert_reads_as_one_to_approve_with_no_ack_link(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """The alerts as the e-mail and Web Push couriers render them, from the stored messages:
    why, by when, the link to it, no content and no acknowledge link (there is nothing to
    acknowledge)."""
    approver = await second_officer(database, world)
    await reachable(db, approver)
    async with http(server.http) as client:
        await country_policy(client, world)
        held = await hold(client, world.unit("FR"))
    row = await db.fetchrow(
        "SELECT id, route, destination_id, event_type, request_id, principal_id, payload, "
        "created_at FROM outbox_messages WHERE request_id = $1 AND route = 'email'",
        uuid.UUID(held["id"]),
    )
    message = Leased(**{**dict(row), "payload": json.loads(row["payload"]), "attempt": 1})
    settings = Settings.from_environment().outbox
    mail = wording.alert(message, settings, ServiceSecret(tmp_path / "secret"))
    assert mail.headline == "An emergency disclosure waits for your approval (four-eyes)"
    assert mail.ack_url is None
    assert [label for label, _ in mail.deadlines] == ["Approve by"]
    assert mail.request_url.endswith(f"/requests/{held['id']}")
    assert "Preserve the mailbox" not in "\n".join(mail.lines(10))
    push = push_payloads.alert(
        message.payload, message_id=str(message.id), url=mail.request_url, ack=None, ack_url=None
    )
    assert push["request_id"] == held["id"]
    assert push["body"].startswith("Waits for your approval (four-eyes)")
    assert "approve by" in push["body"]
