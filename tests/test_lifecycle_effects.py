"""What each step does besides moving the request, as app/requests/lifecycle.py declares it:
the declaration covers every action, says what is expected of each, and the one code path
that applies it (actions._take) does, for every (state, action) of the table, through the
real server; the deadline worker's net reads the same declaration."""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.deadlines.escalation_policy import LEGAL_DEFAULT
from app.deadlines.rows import ALL_KINDS, ESCALATION, RESPONSE_CLOCK
from app.models import CooperationRequest, DeadlineKind
from app.models.enums import RequestAction, RequestStatus, Role, Side
from app.requests import lifecycle
from app.requests.lifecycle import Clock
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World
from tests.test_web_sessions import session_of, with_cookie

A, S = RequestAction, RequestStatus
NOTHING: frozenset[DeadlineKind] = frozenset()
REASON = "The provider keeps no logs older than 90 days"

# What each action is expected to do, written out independently of the declaration:
# (audit action, event, columns stamped, clock, deadline kinds cancelled short of a final state)
EXPECTED: dict[RequestAction, tuple[str, str, tuple[str, ...], Clock | None, frozenset[Any]]] = {
    A.RECEIVE: (
        "request.delivered",
        "request.delivered",
        ("delivered_at", "delivered_by"),
        None,
        NOTHING,
    ),
    A.ACKNOWLEDGE: (
        "request.acknowledged",
        "request.acknowledged",
        ("acknowledged_at", "acknowledged_by"),
        None,
        ESCALATION,
    ),
    A.START: ("request.started", "request.updated", (), None, NOTHING),
    A.REQUEST_INFO: ("request.info_requested", "request.updated", (), Clock.PAUSE, NOTHING),
    A.PROVIDE_INFO: ("request.info_provided", "request.updated", (), Clock.RESUME, NOTHING),
    A.RESPOND: ("request.responded", "request.updated", ("responded_at",), None, RESPONSE_CLOCK),
    A.DECLINE: ("request.declined", "request.updated", (), None, NOTHING),
    A.CLOSE: ("request.closed", "request.updated", (), None, NOTHING),
    A.CANCEL: ("request.cancelled", "request.updated", (), None, NOTHING),
    A.REOPEN: ("request.reopened", "request.updated", (), None, NOTHING),
}
STAMPED = ("delivered_at", "delivered_by", "acknowledged_at", "acknowledged_by", "responded_at")


def test_the_declaration_covers_every_action_once() -> None:
    assert set(lifecycle.EFFECTS) == set(RequestAction)
    assert {action for _, action in lifecycle.TABLE} == set(RequestAction)
    assert set(lifecycle.TAKEN_BY) == set(RequestAction)
    audit_names = [effects.audit for effects in lifecycle.EFFECTS.values()]
    assert len(set(audit_names)) == len(audit_names)


@pytest.mark.parametrize("action", list(RequestAction), ids=str)
def test_each_action_declares_what_it_does(action: RequestAction) -> None:
    effects = lifecycle.EFFECTS[action]
    stamp = effects.stamp
    stamped = () if stamp is None else (stamp.at, *((stamp.by,) if stamp.by else ()))
    assert (effects.audit, effects.event, stamped, effects.clock, effects.cancels) == (
        EXPECTED[action]
    )
    assert {A.DECLINE, A.CANCEL, A.REQUEST_INFO, A.REOPEN} == lifecycle.REASON_REQUIRED


@pytest.mark.parametrize(("state", "action"), list(lifecycle.TABLE), ids=str)
def test_a_step_cancels_its_kinds_and_a_final_one_every_kind(
    state: RequestStatus, action: RequestAction
) -> None:
    to = lifecycle.TABLE[state, action].to
    expected = ALL_KINDS if to in {S.CLOSED, S.DECLINED, S.CANCELLED} else EXPECTED[action][4]
    assert lifecycle.cancels(action, to) == expected


def test_a_first_only_stamp_keeps_the_first_time() -> None:
    first, later = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    request = CooperationRequest(status=S.IN_PROGRESS)
    stamp = lifecycle.EFFECTS[A.RESPOND].stamp
    assert stamp is not None
    stamp.write(request, first, uuid.uuid4())
    stamp.write(request, later, uuid.uuid4())
    assert request.responded_at == first
    ack = lifecycle.EFFECTS[A.ACKNOWLEDGE].stamp
    assert ack is not None
    who = uuid.uuid4()
    ack.write(request, later, who)
    assert (request.acknowledged_at, request.acknowledged_by) == (later, who)


_NOW = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "moot"),
    [
        ({"status": S.SUBMITTED}, NOTHING),
        ({"status": S.DELIVERED, "delivered_at": _NOW}, NOTHING),
        ({"status": S.ACKNOWLEDGED, "acknowledged_at": _NOW}, ESCALATION),
        ({"status": S.IN_PROGRESS, "acknowledged_at": _NOW}, ESCALATION),
        (
            {"status": S.INFO_REQUESTED, "acknowledged_at": _NOW, "response_paused_at": _NOW},
            ALL_KINDS,
        ),
        ({"status": S.INFO_REQUESTED, "response_paused_at": _NOW}, RESPONSE_CLOCK),
        ({"status": S.RESPONDED, "acknowledged_at": _NOW, "responded_at": _NOW}, ALL_KINDS),
        ({"status": S.RESPONDED, "responded_at": _NOW}, RESPONSE_CLOCK),
        *(({"status": state}, ALL_KINDS) for state in (S.CLOSED, S.DECLINED, S.CANCELLED)),
        ({"status": S.SUBMITTED, "purged_at": _NOW}, ALL_KINDS),
    ],
    ids=lambda value: "-".join(map(str, value)) if isinstance(value, dict) else None,
)
def test_the_worker_finds_moot_what_the_steps_taken_cancel(
    fields: dict[str, Any], moot: frozenset[DeadlineKind]
) -> None:
    assert lifecycle.moot_kinds(CooperationRequest(**fields)) == moot


def test_a_purged_request_and_a_late_reopen_are_refused_in_one_place() -> None:
    window = timedelta(days=30)
    purged = CooperationRequest(status=S.RESPONDED, purged_at=_NOW)
    for action in RequestAction:
        assert "purged" in (lifecycle.refusal(purged, action, _NOW, window) or "")
    assert lifecycle.allowed_now(purged, Side.REQUESTER, _NOW, window) == []
    closed = CooperationRequest(status=S.CLOSED, closed_at=_NOW)
    ends = lifecycle.reopen_ends(closed, window)
    assert ends == _NOW + window
    late = ends + timedelta(seconds=1)
    assert lifecycle.refusal(closed, A.REOPEN, ends, window) is None
    assert "reopened until" in (lifecycle.refusal(closed, A.REOPEN, late, window) or "")
    assert lifecycle.allowed_now(closed, Side.REQUESTER, late, window) == []
    assert lifecycle.allowed_now(closed, Side.REQUESTER, ends, window) == [A.REOPEN]


async def test_the_pages_carry_the_declaration_for_their_scripts(
    server: RunningServer, world: World
) -> None:
    """static/js/lifecycle.js reads this block: the scripts restate nothing of the table."""
    async with http(server.http) as client:
        cookie = await session_of(client, world.desk("DE"))
        page = await client.get("/web/", headers=with_cookie(cookie))
    block = re.search(r'<script type="application/json" id="lifecycle">(.*?)</script>', page.text)
    assert block is not None, page.text
    assert json.loads(html.unescape(block.group(1))) == {
        "open": [
            "submitted",
            "delivered",
            "acknowledged",
            "in_progress",
            "info_requested",
            "responded",
        ],
        "reason_required": ["request_info", "decline", "cancel", "reopen"],
        "acknowledge_from": ["submitted", "delivered"],
        "receive_from": ["submitted"],
        "ends_unanswered": ["decline", "cancel"],
    }
    scripts = Path(__file__).parent.parent / "app" / "web" / "static" / "js"
    for script in scripts.glob("*.js"):
        text = script.read_text()
        # A list of states or of reason-required actions, as they were hard-coded before.
        for word in ('"info_requested"', '"decline"'):
            assert word not in text, f"{script.name} restates the lifecycle: {word}"


# --- through the real server: the declaration is what _take does ----------------------------


async def _use_response_clock(client: httpx.AsyncClient, world: World) -> None:
    """Every request to DE gets a response clock (the legal default has none for some)."""
    document = LEGAL_DEFAULT.model_dump(mode="json")
    document["response_times"] = [{"type": None, "priority": None, "respond_within_hours": 2}]
    response = await client.put(
        "/v1/countries/DE/escalation-policy",
        content=json.dumps(document),
        headers={**world("DE", Role.NCB).headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


async def _put_in_state(db: asyncpg.Connection, request_id: str, state: RequestStatus) -> None:
    """As if the request had got there: its status, closed_at when final, and, waiting on its
    requester, a response clock paused an hour ago (its rows cancelled when it paused)."""
    paused = state is S.INFO_REQUESTED
    await db.execute(
        "UPDATE requests SET status = $2, closed_at = CASE WHEN $3 THEN now() END, "
        "response_paused_at = CASE WHEN $4 THEN now() - interval '1 hour' END WHERE id = $1",
        uuid.UUID(request_id),
        state.value,
        lifecycle.is_final(state),
        paused,
    )
    if paused:
        await db.execute(
            "UPDATE request_deadlines d SET cancelled_at = r.response_paused_at FROM requests r "
            "WHERE r.id = d.request_id AND r.id = $1 AND d.kind::text = ANY($2::text[])",
            uuid.UUID(request_id),
            [kind.value for kind in RESPONSE_CLOCK],
        )


async def _deadlines(db: asyncpg.Connection, request_id: str) -> dict[int, dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, kind::text AS kind, cancelled_at FROM request_deadlines WHERE request_id = $1",
        uuid.UUID(request_id),
    )
    return {row["id"]: dict(row) for row in rows}


async def test_every_step_of_the_table_does_what_its_action_declares(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    parties = {Side.TARGET: world.desk("DE"), Side.REQUESTER: world.unit("FR")}
    wrong: list[str] = []
    async with http(server.http) as client:
        await _use_response_clock(client, world)
        for (state, action), rule in lifecycle.TABLE.items():
            case = f"{state} {action}"
            audit_name, event, stamped, clock, cancels = EXPECTED[action]
            request_id = str((await submit_request(client, world.unit("FR"), "DE"))["id"])
            await _put_in_state(db, request_id, state)
            before = await db.fetchrow(
                "SELECT * FROM requests WHERE id = $1", uuid.UUID(request_id)
            )
            deadlines_before = await _deadlines(db, request_id)
            last_event = await db.fetchval("SELECT coalesce(max(id), 0) FROM events")
            party = parties[rule.side]
            response = await client.post(
                f"/v1/requests/{request_id}/actions/{action.value}",
                json={"reason": REASON},
                headers=party.headers,
            )
            if response.status_code != 200:
                wrong.append(f"{case}: {response.status_code} {response.text}")
                continue
            at = datetime.fromisoformat(response.json()["at"].replace("Z", "+00:00"))
            after = await db.fetchrow("SELECT * FROM requests WHERE id = $1", uuid.UUID(request_id))

            for column in STAMPED:
                expected = before[column]
                if column in stamped and not (column == "responded_at" and expected is not None):
                    expected = party.principal_id if column.endswith("_by") else at
                if after[column] != expected:
                    wrong.append(f"{case}: {column} {after[column]} (expected {expected})")

            paused_at = before["response_paused_at"]
            expected_paused = {Clock.PAUSE: at, Clock.RESUME: None, None: paused_at}[clock]
            if after["response_paused_at"] != expected_paused:
                wrong.append(f"{case}: response_paused_at {after['response_paused_at']}")
            if clock is Clock.RESUME and after["response_due_at"] != before["response_due_at"] + (
                at - paused_at
            ):
                wrong.append(f"{case}: the clock did not resume by the time it waited")

            deadlines_after = await _deadlines(db, request_id)
            cancelled_now = {
                row["kind"]
                for key, row in deadlines_after.items()
                if row["cancelled_at"] == at and deadlines_before[key]["cancelled_at"] is None
            }
            expected_kinds = ALL_KINDS if lifecycle.is_final(rule.to) else cancels
            if clock is Clock.PAUSE:
                expected_kinds |= RESPONSE_CLOCK
            pending_kinds = {
                row["kind"] for row in deadlines_before.values() if row["cancelled_at"] is None
            }
            if cancelled_now != {kind.value for kind in expected_kinds} & pending_kinds:
                wrong.append(f"{case}: cancelled {sorted(cancelled_now)}")

            audit = await db.fetchval(
                "SELECT action FROM audit_entries WHERE object_id = $1 "
                "AND action <> 'access.refused' ORDER BY id DESC LIMIT 1",
                request_id,
            )
            if audit != audit_name:
                wrong.append(f"{case}: audited as {audit}")
            events = await db.fetch(
                "SELECT DISTINCT type FROM events WHERE request_id = $1 AND id > $2",
                uuid.UUID(request_id),
                last_event,
            )
            if [row["type"] for row in events] != [event]:
                wrong.append(f"{case}: events {[row['type'] for row in events]}")
    assert not wrong, "\n".join(wrong)
