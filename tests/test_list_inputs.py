"""Every cursor and integer input of every list endpoint, at and past its bounds: a value the
service can hold is answered, anything else is a 422 problem naming the input, never a 500.

The bounds: a Postgres bigint (2^63 - 1) for what is compared with a column, and 2^53 - 1 for
a cursor's integer, since a read records where it started in its own audit entry, whose
canonical form (RFC 8785) carries no larger integer (issue 19, item 11: a forged audit cursor
between the two was a 500)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from app.core.database import Database
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.shared_data import indicator, quarantine

SAFE = 2**53 - 1
BIGINT = 2**63 - 1
# (value, name): the integers a forged cursor or a limit may carry.
INTEGERS = [
    (0, "0"),
    (-1, "-1"),
    (SAFE, "2^53-1"),
    (SAFE + 1, "2^53"),
    (BIGINT, "2^63-1"),
    (BIGINT + 1, "2^63"),
    (10**40, "huge"),
]
NOT_INTEGERS: list[Any] = ["12", 1.5, None, True, "\u0000", [1]]
MESSAGES_SEQ_MAX = 2**31 - 1  # messages.seq is an INTEGER

# Each list endpoint: who may call it, and the cursor it pages with: "keyset" (time, id),
# "position" (a request's bigint sequence), "messages" (its thread's integer sequence) or
# "sequence" (the audit trail's position).
ENDPOINTS: dict[str, tuple[str, str]] = {
    "/v1/requests": ("unit", "keyset"),
    "/v1/drills": ("gs", "keyset"),
    "/v1/reports": ("gs", "keyset"),
    "/v1/approvals": ("unit", "keyset"),
    "/v1/requests/{request_id}/history": ("unit", "position"),
    "/v1/requests/{request_id}/messages": ("unit", "messages"),
    "/v1/requests/{request_id}/files": ("unit", "keyset"),
    "/v1/requests/{request_id}/alerts": ("unit", "keyset"),
    "/v1/requests/{request_id}/matches": ("unit", "position"),
    "/v1/agencies": ("gs", "keyset"),
    "/v1/principals": ("gs", "keyset"),
    "/v1/principals/{principal_id}/tokens": ("gs", "keyset"),
    "/v1/agreements": ("gs", "keyset"),
    "/v1/countries/{cc}/roster/rotations": ("gs", "keyset"),
    "/v1/countries/{cc}/roster/overrides": ("gs", "keyset"),
    "/v1/audit/entries": ("auditor", "sequence"),
    "/v1/webhook-endpoints": ("gs", "keyset"),
    "/v1/webhook-endpoints/{endpoint_id}/messages": ("gs", "keyset"),
    "/v1/partner-agreements": ("gs", "keyset"),
    "/v1/shared-data/quarantine": ("gs", "sequence"),
    "/v1/shared-data/submissions": ("gs", "keyset"),
    "/v1/shared-data/submissions/{submission_id}/objects": ("gs", "sequence"),
    "/v1/shared-data/objects": ("gs", "sequence"),
}

# A page's "only what came after the last one shown": a position in the request's sequence,
# as large as its column holds.
AFTER: dict[str, tuple[str, int]] = {
    "/v1/requests/{request_id}/history": ("after_id", BIGINT),
    "/v1/requests/{request_id}/messages": ("after_seq", MESSAGES_SEQ_MAX),
}


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_every_list_endpoint_is_covered() -> None:
    """A list endpoint added later must be added here: every GET taking a cursor or an
    integer query parameter, from the OpenAPI document."""
    from app.main import create_app

    document = create_app().openapi()
    found = set()
    for path, operations in document["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] != "query":
                continue  # an object's own id (GET /v1/shared-data/objects/{row_id})
            schema = json.dumps(parameter.get("schema"))
            if parameter["name"] == "cursor" or '"integer"' in schema or '"number"' in schema:
                allowed = ("cursor", "limit", AFTER.get(path, ("",))[0])
                assert parameter["name"] in allowed, (path, parameter["name"])
                found.add(path)
    assert found == set(ENDPOINTS)


def _cases(kind: str, request_id: str) -> list[tuple[str, str, int]]:
    """(case, cursor, the status: 200 when the service can hold it, else 422)."""
    key = {"sequence": "s", "position": "p", "messages": "p", "keyset": "i"}[kind]
    largest = {"sequence": SAFE, "position": SAFE, "messages": MESSAGES_SEQ_MAX}.get(kind, -1)

    def payload(value: Any) -> dict[str, Any]:
        if kind == "sequence":
            return {"s": value}
        if kind == "keyset":  # an id is a UUID, never a number
            return {"t": "2026-01-01T00:00:00+00:00", "i": value}
        return {"r": request_id, "p": value}

    cases = []
    for value, name in INTEGERS:
        fine = 0 <= value <= largest
        cases.append((f"cursor {name}", _cursor(payload(value)), 200 if fine else 422))
    cases.append(
        (
            f"cursor {MESSAGES_SEQ_MAX + 1}",
            _cursor(payload(MESSAGES_SEQ_MAX + 1)),
            200 if largest >= MESSAGES_SEQ_MAX + 1 else 422,
        )
    )
    for value in NOT_INTEGERS:
        cases.append((f"cursor {key}={value!r}", _cursor(payload(value)), 422))
    cases.append(("cursor NUL", "\u0000", 422))
    cases.append(("cursor not base64", "!!", 422))
    cases.append(("cursor too long", "A" * 513, 422))
    return cases


LIMITS = [
    ("1", 200),
    ("200", 200),
    ("0", 422),
    ("-1", 422),
    ("201", 422),
    (str(SAFE), 422),
    (str(SAFE + 1), 422),
    (str(BIGINT), 422),
    (str(BIGINT + 1), 422),
    ("1" * 60, 422),
    ("1.5", 422),
    ("1e3", 422),
    ("abc", 422),
    ("\u0000", 422),
    ("", 422),
]


def _party(world: World, who: str) -> Party:
    return {"unit": world.unit("FR"), "gs": world.gs, "auditor": world.auditor}[who]


async def _call(client: httpx.AsyncClient, url: str, party: Party, **params: str) -> httpx.Response:
    return await client.get(url, params=params, headers=party.headers)


def _problem(response: httpx.Response, status: int, field: str, case: str) -> None:
    assert response.status_code == status, (case, response.status_code, response.text)
    if status == 422:
        assert response.headers["content-type"] == "application/problem+json", case
        assert field in response.json()["detail"], (case, response.json())


@pytest.mark.parametrize("path", list(ENDPOINTS))
async def test_cursors_and_limits_at_and_past_their_bounds(
    path: str, server: RunningServer, world: World, database: Database
) -> None:
    who, kind = ENDPOINTS[path]
    party = _party(world, who)
    async with http(server.http) as client:
        request_id = str((await submit_request(client, world.unit("FR")))["id"])
        endpoint_id = ""
        if "{endpoint_id}" in path:
            made = await client.post(
                "/v1/webhook-endpoints",
                json={"url": "https://cases.invalid/hooks"},
                headers=party.headers,
            )
            assert made.status_code == 201, made.text
            endpoint_id = made.json()["id"]
        submission_id, _ = await quarantine(database, world.partner("FR"), [indicator()])
        url = path.format(
            submission_id=submission_id,
            request_id=request_id,
            principal_id=party.principal_id,
            cc="DE",
            endpoint_id=endpoint_id,
        )
        response = await _call(client, url, party)
        assert response.status_code == 200, response.text
        for case, cursor, status in _cases(kind, request_id):
            _problem(await _call(client, url, party, cursor=cursor), status, "cursor", case)
        for limit, status in LIMITS:
            _problem(await _call(client, url, party, limit=limit), status, "limit", limit)


@pytest.mark.parametrize("path", list(AFTER))
async def test_after_positions_at_and_past_their_bounds(
    path: str, server: RunningServer, world: World
) -> None:
    name, largest = AFTER[path]
    party = world.unit("FR")
    async with http(server.http) as client:
        request_id = str((await submit_request(client, party))["id"])
        url = path.format(request_id=request_id)
        cases = [
            ("0", 200),
            (str(largest), 200),
            ("-1", 422),
            (str(largest + 1), 422),
            ("1" * 60, 422),
            ("1.5", 422),
            ("abc", 422),
            ("\u0000", 422),
            ("", 422),
        ]
        for value, status in cases:
            _problem(await _call(client, url, party, **{name: value}), status, name, value)
        first = await _call(client, url, party, limit="1")
        cursor = first.json()["next_cursor"] or _cursor({"r": request_id, "p": 0})
        both = await _call(client, url, party, cursor=cursor, **{name: "0"})
        _problem(both, 422, name, "with a cursor")
