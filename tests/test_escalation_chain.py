"""A request's escalation chain (GET /v1/requests/{id}/escalation-chain) and what a request's
page reads beside it: every step with whom it reaches and when it fired or will fire, as the
worker moves it on; for whoever sees the request and nobody else; metadata only, never an
audited read. And the page's other reads: the requester and how to call them back, whether
the reader may hand the request on, the authors of messages and the actors of its history,
each by name only where the reader may see that person."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.deadlines import STEP_SECONDS, bring_due
from tests.factories import Party, World
from tests.test_escalation import backup_on_duty, use_policy
from tests.waiting import eventually


async def chain(client: httpx.AsyncClient, party: Party, request_id: str) -> httpx.Response:
    return await client.get(f"/v1/requests/{request_id}/escalation-chain", headers=party.headers)


async def audit_count(db: asyncpg.Connection, request_id: str) -> int:
    """The request's audit entries but the records of refusals (a 404 to a stranger)."""
    count: int = await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE object_id = $1 AND action <> 'access.refused'",
        request_id,
    )
    return count


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_the_chain_names_each_step_and_moves_on_as_the_worker_escalates(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    backup = await backup_on_duty(database, world)
    primary = world.desk("DE")
    async with http(server.http) as client:
        await use_policy(client, world, STEP_SECONDS, 2 * STEP_SECONDS, 3 * STEP_SECONDS, 60)
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]

        shown = (await chain(client, primary, request_id)).json()
        steps = shown["steps"]
        assert shown["running"] is True
        assert shown["current_step"] == 0
        assert [s["target"] for s in steps] == [
            "on_duty_primary",
            "on_duty_backup",
            "ncb",
            "global_desk",
        ]
        assert [s["state"] for s in steps] == ["current", "upcoming", "upcoming", "upcoming"]
        assert steps[0]["reaches"]["name"] == "DE contact_point"
        assert steps[0]["fired_at"] is not None
        # The backup is named as the roster puts them on duty when the step would fire.
        assert steps[1]["reaches"]["id"] == str(backup.principal_id)
        assert steps[1]["reaches"]["name"] == "DE backup"
        assert steps[2]["reaches"] is None
        assert steps[2]["label"] == "NCB DE (DE ncb)"
        assert steps[3]["label"] == "the global desk"
        # Step 1 fires when step 0 times out; each later one the previous one's timeout after.
        times_out = when(steps[0]["due_at"])
        assert when(steps[1]["due_at"]) == times_out
        assert when(steps[2]["due_at"]) == times_out + timedelta(seconds=2 * STEP_SECONDS)
        assert when(steps[3]["due_at"]) == times_out + timedelta(seconds=5 * STEP_SECONDS)

        await bring_due(db, request_id, "ack")

        async def moved_on() -> bool:
            return (await chain(client, primary, request_id)).json()["current_step"] == 1

        await eventually(moved_on)
        steps = (await chain(client, primary, request_id)).json()["steps"]
        assert [s["state"] for s in steps] == ["passed", "current", "upcoming", "upcoming"]
        assert steps[1]["reaches"]["name"] == "DE backup"
        assert steps[1]["fired_at"] is not None
        assert when(steps[1]["fired_at"]) >= when(steps[0]["fired_at"])

        ack = await client.post(f"/v1/requests/{request_id}/ack", headers=backup.headers)
        assert ack.status_code == 200, ack.text
        stopped = (await chain(client, primary, request_id)).json()
    assert stopped["running"] is False
    assert stopped["acknowledged_by"]["name"] == "DE backup"
    assert [s["state"] for s in stopped["steps"]] == [
        "passed",
        "stopped",
        "not_reached",
        "not_reached",
    ]
    assert [s["due_at"] for s in stopped["steps"][2:]] == [None, None]


async def test_the_chain_is_shown_as_the_request_is_and_is_never_an_audited_read(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        before = await audit_count(db, request_id)
        for party in (
            world.desk("DE"),
            world("DE", Role.NCB),
            world.unit("FR"),
            world.gs,
            world.auditor,
        ):
            response = await chain(client, party, request_id)
            assert response.status_code == 200, (party.role, response.text)
        for stranger in (world.desk("JP"), world.unit("JP"), world("JP", Role.NCB)):
            refused = await chain(client, stranger, request_id)
            assert refused.status_code == 404
            assert refused.headers["content-type"] == "application/problem+json"
        # Whom the desk step reached is named only to who may see DE's people.
        by_desk = (await chain(client, world.desk("DE"), request_id)).json()
        by_auditor = (await chain(client, world.auditor, request_id)).json()
    assert await audit_count(db, request_id) == before
    assert by_desk["steps"][0]["label"] == "DE desk"
    assert by_auditor["steps"][0]["label"] == "DE desk"


@pytest.mark.parametrize("bad", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
async def test_a_bad_or_unknown_id_is_a_problem(
    server: RunningServer, world: World, bad: str
) -> None:
    async with http(server.http) as client:
        response = await chain(client, world.desk("DE"), bad)
    assert response.status_code in (404, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_request_names_its_sender_and_how_to_call_them_back(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE countries SET desk_phone = '+33 1 40 97 00 00' WHERE code = 'FR'")
    await db.execute(
        "UPDATE principals SET phone = '+33 6 11 22 33 44' WHERE id = $1",
        world.unit("FR").principal_id,
    )
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]

        async def detail(party: Party) -> dict[str, Any]:
            response = await client.get(f"/v1/requests/{request_id}", headers=party.headers)
            assert response.status_code == 200, response.text
            shown: dict[str, Any] = response.json()
            return shown

        desk, sender, gs, auditor = (
            await detail(world.desk("DE")),
            await detail(world.unit("FR")),
            await detail(world.gs),
            await detail(world.auditor),
        )
    # The target desk: the agency, its country and the desk's phone; not the sender's name.
    assert desk["requester"]["agency_name"] == "FR unit"
    assert desk["requester"]["country"] == "FR"
    assert desk["requester"]["desk_phone"] == "+33 1 40 97 00 00"
    assert desk["requester"]["sender"]["name"] is None
    assert desk["requester"]["sender"]["phone"] is None
    assert desk["requester"]["sender"]["role"] == "unit"
    assert desk["may_assign"] is True
    # The sender sees itself; the global desk sees everyone; an auditor no phone at all.
    assert sender["requester"]["sender"]["phone"] == "+33 6 11 22 33 44"
    assert sender["may_assign"] is False
    assert gs["requester"]["sender"]["name"] == "FR unit"
    assert gs["may_assign"] is True
    assert auditor["requester"]["desk_phone"] is None
    assert auditor["requester"]["sender"]["phone"] is None
    assert auditor["may_assign"] is False


async def test_authors_and_actors_are_named_where_the_reader_may_see_them(
    server: RunningServer, world: World
) -> None:
    desk, unit = world.desk("DE"), world.unit("FR")
    async with http(server.http) as client:
        request_id = (await submit_request(client, unit, "DE"))["id"]
        for path, body in (
            ("ack", None),
            (
                "messages",
                {"text": "Which account?", "source_reliability": "B", "information_accuracy": 2},
            ),
        ):
            posted = await client.post(
                f"/v1/requests/{request_id}/{path}", json=body, headers=desk.headers
            )
            assert posted.status_code in (200, 201), posted.text
        seen_by_desk = (
            await client.get(f"/v1/requests/{request_id}/messages", headers=desk.headers)
        ).json()["items"][0]
        seen_by_unit = (
            await client.get(f"/v1/requests/{request_id}/messages", headers=unit.headers)
        ).json()["items"][0]
        history = (
            await client.get(f"/v1/requests/{request_id}/history", headers=unit.headers)
        ).json()["items"]
    assert seen_by_desk["author"]["name"] == "DE contact_point"
    assert seen_by_unit["author"]["name"] is None
    assert seen_by_unit["author"]["agency_name"] == "DE unit"
    assert seen_by_unit["author"]["role"] == "contact_point"
    assert seen_by_unit["source_reliability"] == "B"
    assert [step["actor"]["name"] for step in history] == ["FR unit", None]
    assert history[1]["actor"]["country"] == "DE"


async def request_reads(db: asyncpg.Connection, request_id: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE object_id = $1 AND action = 'request.read'",
        request_id,
    )
    return count


async def test_a_metadata_read_shows_no_content_and_writes_no_audit_entry(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        request_id = (await submit_request(client, world.unit("FR"), "DE"))["id"]
        before = await request_reads(db, request_id)
        glance = await client.get(
            f"/v1/requests/{request_id}", params={"content": "false"}, headers=desk.headers
        )
        assert glance.status_code == 200, glance.text
        assert glance.json()["content"] is None
        assert glance.json()["allowed_actions"] == ["receive", "acknowledge", "decline"]
        assert await request_reads(db, request_id) == before
        read = await client.get(f"/v1/requests/{request_id}", headers=desk.headers)
        assert read.json()["content"] is not None
        assert await request_reads(db, request_id) == before + 1
        bad = await client.get(
            f"/v1/requests/{request_id}", params={"content": "maybe"}, headers=desk.headers
        )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_a_page_reads_only_the_messages_and_steps_after_those_it_shows(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk, unit = world.desk("DE"), world.unit("FR")
    async with http(server.http) as client:
        request_id = (await submit_request(client, unit, "DE"))["id"]
        base = f"/v1/requests/{request_id}"
        for text in ("one", "two", "three"):
            sent = await client.post(f"{base}/messages", json={"text": text}, headers=unit.headers)
            assert sent.status_code == 201, sent.text
        reads = await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action = 'message.read'"
        )
        newer = await client.get(f"{base}/messages", params={"after_seq": 2}, headers=desk.headers)
        assert [m["text"] for m in newer.json()["items"]] == ["three"]
        after = await db.fetchval(
            "SELECT count(*) FROM audit_entries WHERE action = 'message.read'"
        )
        assert after - reads == 1  # the one message shown, not the thread again

        await client.post(f"{base}/ack", headers=desk.headers)
        steps = (await client.get(f"{base}/history", headers=desk.headers)).json()["items"]
        later = await client.get(
            f"{base}/history", params={"after_id": steps[0]["id"]}, headers=desk.headers
        )
        assert [s["action"] for s in later.json()["items"]] == [s["action"] for s in steps[1:]]

        first = await client.get(f"{base}/messages", params={"limit": 1}, headers=desk.headers)
        cursor = first.json()["next_cursor"]
        refused = [
            await client.get(f"{base}/messages", params=params, headers=desk.headers)
            for params in (
                {"after_seq": 1, "cursor": cursor},
                {"after_seq": -1},
                {"after_seq": "x\x00"},
                {"after_seq": 2**40},
            )
        ] + [
            await client.get(f"{base}/history", params=params, headers=desk.headers)
            for params in ({"after_id": -5}, {"after_id": 2**70})
        ]
    assert [r.status_code for r in refused] == [422] * 6
    assert {r.headers["content-type"] for r in refused} == {"application/problem+json"}


async def test_forms_are_offered_only_while_they_can_succeed(
    server: RunningServer, world: World
) -> None:
    desk, unit = world.desk("DE"), world.unit("FR")
    async with http(server.http) as client:
        request_id = (await submit_request(client, unit, "DE"))["id"]
        base = f"/v1/requests/{request_id}"
        before = (await client.get(base, headers=desk.headers)).json()
        auditor = (await client.get(base, headers=world.auditor.headers)).json()
        cancelled = await client.post(
            f"{base}/actions/cancel", json={"reason": "Wrong country"}, headers=unit.headers
        )
        assert cancelled.status_code == 200, cancelled.text
        after = (await client.get(base, headers=desk.headers)).json()
        refused = await client.post(
            f"{base}/assign",
            json={"principal_id": str(desk.principal_id)},
            headers=desk.headers,
        )
    assert (before["may_take_part"], before["may_assign"]) == (True, True)
    assert (auditor["may_take_part"], auditor["may_assign"]) == (False, False)
    # Final: the service would refuse both, so the page is told not to offer them.
    assert (after["may_take_part"], after["may_assign"]) == (False, False)
    assert refused.status_code == 409
