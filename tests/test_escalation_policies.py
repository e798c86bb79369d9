"""Escalation policies: the network default, a country's own overriding it, who may change
which, optimistic concurrency, and every malformed policy refused naming what is wrong."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.database import Database
from app.deadlines.escalation_policy import LEGAL_DEFAULT
from app.models import EscalationPolicy
from app.models.enums import Role
from tests.audit_trail import entries
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World

NUL = "\u0000"


def policy(**overrides: Any) -> dict[str, Any]:
    """A valid policy: the legal default with faster emergencies."""
    document = LEGAL_DEFAULT.model_dump(mode="json")
    document["ack_steps"][0]["steps"][0]["ack_timeout_seconds"] = 120
    document.update(overrides)
    return document


async def put(
    client: httpx.AsyncClient, party: Party, path: str, body: Any, **headers: str
) -> httpx.Response:
    return await client.put(
        path,
        content=json.dumps(body),
        headers={**party.headers, "Content-Type": "application/json", **headers},
    )


async def test_the_seeded_default_is_the_legal_default_of_the_code(database: Database) -> None:
    # The migration writes its own copy (it may not import app code): this keeps them equal.
    async with database.transaction() as session:
        row = await session.scalar(select(EscalationPolicy).where(EscalationPolicy.scope == "**"))
    assert row is not None
    assert row.country_code is None
    assert row.document == LEGAL_DEFAULT.model_dump(mode="json")


async def test_everyone_reads_the_default(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        for party in (world.unit("FR"), world.auditor, world.desk("JP")):
            response = await client.get("/v1/escalation-policy", headers=party.headers)
            assert response.status_code == 200
            assert response.headers["etag"] == '"1"'
            body = response.json()
            assert body["country"] is None
            assert body["inherited"] is False
            assert body["version"] == 1
            assert body["document"] == LEGAL_DEFAULT.model_dump(mode="json")


async def test_a_country_inherits_the_default_until_it_has_its_own(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb = world("DE", Role.NCB)
    path = "/v1/countries/DE/escalation-policy"
    async with http(server.http) as client:
        inherited = await client.get(path, headers=world.unit("FR").headers)
        own = await put(client, ncb, path, policy())
        read = await client.get(path, headers=world.unit("FR").headers)
        france = await client.get(
            "/v1/countries/FR/escalation-policy", headers=world.unit("FR").headers
        )
        reverted = await client.delete(path, headers=ncb.headers)
        again = await client.delete(path, headers=ncb.headers)
        after = await client.get(path, headers=world.unit("FR").headers)

    assert inherited.json()["inherited"] is True
    assert inherited.json()["country"] == "DE"
    assert inherited.headers["etag"] == '"default-1"'
    assert own.status_code == 200, own.text
    assert own.json()["inherited"] is False
    assert own.json()["version"] == 1
    assert read.json() == own.json()
    assert read.json()["document"]["ack_steps"][0]["steps"][0]["ack_timeout_seconds"] == 120
    assert france.json()["inherited"] is True
    assert reverted.status_code == 200
    assert reverted.json()["inherited"] is True
    assert reverted.json()["document"] == LEGAL_DEFAULT.model_dump(mode="json")
    assert again.status_code == 200
    assert after.json() == inherited.json()

    changed = await entries(database, "escalation_policy.changed", object_id="DE")
    assert [e.details["version"] for e in changed] == [1]
    assert changed[0].details["document"] == policy()
    [removed] = await entries(database, "escalation_policy.reverted", object_id="DE")
    assert removed.details == {"removed_version": 1}


async def test_each_change_bumps_the_version(server: RunningServer, world: World) -> None:
    path = "/v1/countries/JP/escalation-policy"
    async with http(server.http) as client:
        versions = []
        for seconds in (60, 90, 120):
            document = policy()
            document["ack_steps"][1]["steps"][0]["ack_timeout_seconds"] = seconds
            response = await put(client, world.gs, path, document)
            versions.append((response.json()["version"], response.headers["etag"]))
    assert versions == [(1, '"1"'), (2, '"2"'), (3, '"3"')]


@pytest.mark.parametrize(
    ("who", "country", "status"),
    [
        (lambda w: w("DE", Role.NCB), "DE", 200),
        (lambda w: w.gs, "DE", 200),
        (lambda w: w("FR", Role.NCB), "DE", 403),
        (lambda w: w.desk("DE"), "DE", 403),
        (lambda w: w.unit("DE"), "DE", 403),
        (lambda w: w.auditor, "DE", 403),
        (lambda w: w.admin, "DE", 403),
        (lambda w: w.gs, "ZZ", 404),
        (lambda w: w("DE", Role.NCB), "ZZ", 404),
    ],
    ids=[
        "own NCB",
        "global desk",
        "other NCB",
        "own desk",
        "own unit",
        "auditor",
        "admin",
        "gs, unknown",
        "NCB, unknown",
    ],
)
async def test_who_may_set_or_drop_a_country_policy(
    server: RunningServer, world: World, database: Database, who: Any, country: str, status: int
) -> None:
    path = f"/v1/countries/{country}/escalation-policy"
    async with http(server.http) as client:
        replaced = await put(client, who(world), path, policy())
        dropped = await client.delete(path, headers=who(world).headers)
    assert replaced.status_code == dropped.status_code == status, replaced.text
    if status != 200:
        assert replaced.headers["content-type"] == "application/problem+json"
        assert await entries(database, "escalation_policy.changed") == []


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (lambda w: w.gs, 200),
        (lambda w: w("FR", Role.NCB), 403),
        (lambda w: w.admin, 403),
        (lambda w: w.unit("FR"), 403),
        (lambda w: w.auditor, 403),
    ],
    ids=["global desk", "NCB", "admin", "unit", "auditor"],
)
async def test_only_the_global_desk_changes_the_default(
    server: RunningServer, world: World, database: Database, who: Any, status: int
) -> None:
    async with http(server.http) as client:
        response = await put(client, who(world), "/v1/escalation-policy", policy())
        read = await client.get("/v1/escalation-policy", headers=world.unit("FR").headers)
    assert response.status_code == status, response.text
    audited = await entries(database, "escalation_policy.changed", object_id="**")
    if status == 200:
        assert read.json()["version"] == 2
        assert read.json()["document"] == policy()
        assert [e.details["version"] for e in audited] == [2]
    else:
        assert read.json()["version"] == 1
        assert audited == []


async def test_a_change_made_from_a_stale_read_is_refused(
    server: RunningServer, world: World
) -> None:
    gs = world.gs
    async with http(server.http) as client:
        first = await client.get("/v1/escalation-policy", headers=gs.headers)
        etag = first.headers["etag"]
        ok = await put(client, gs, "/v1/escalation-policy", policy(), **{"If-Match": etag})
        stale = await put(client, gs, "/v1/escalation-policy", policy(), **{"If-Match": etag})
        star = await put(client, gs, "/v1/escalation-policy", policy(), **{"If-Match": "*"})
        listed = await put(
            client, gs, "/v1/escalation-policy", policy(), **{"If-Match": '"1", "3"'}
        )
        weak = await put(client, gs, "/v1/escalation-policy", policy(), **{"If-Match": 'W/"4"'})
        bare = await put(client, gs, "/v1/escalation-policy", policy(), **{"If-Match": "4"})
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current_etag"] == '"2"'
    assert star.status_code == 200
    assert listed.status_code == 200  # "3" was current
    assert weak.status_code == 412  # If-Match compares strongly
    assert bare.status_code == 422
    assert "If-Match" in bare.json()["detail"]


async def test_if_match_on_a_country_names_the_policy_in_effect(
    server: RunningServer, world: World
) -> None:
    ncb = world("DE", Role.NCB)
    path = "/v1/countries/DE/escalation-policy"
    async with http(server.http) as client:
        wrong = await put(client, ncb, path, policy(), **{"If-Match": '"1"'})
        created = await put(client, ncb, path, policy(), **{"If-Match": '"default-1"'})
        stale = await put(client, ncb, path, policy(), **{"If-Match": '"default-1"'})
        stale_drop = await client.delete(path, headers={**ncb.headers, "If-Match": '"7"'})
        dropped = await client.delete(path, headers={**ncb.headers, "If-Match": '"1"'})
    assert wrong.status_code == 412
    assert created.status_code == 200
    assert stale.status_code == 412
    assert stale_drop.status_code == 412
    assert dropped.status_code == 200


def _without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != key}


def _steps(*steps: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"target": t, "ack_timeout_seconds": s} for t, s in steps]


def _with_rule(document: dict[str, Any], index: int, **rule: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["ack_steps"][index].update(rule)
    return changed


BAD_POLICIES: list[tuple[str, Any, str]] = [
    (
        "zero timeout",
        _with_rule(policy(), 0, steps=_steps(("on_duty_primary", 0), ("global_desk", 60))),
        "ack_steps[0].steps[0].ack_timeout_seconds",
    ),
    (
        "negative timeout",
        _with_rule(policy(), 0, steps=_steps(("global_desk", -5))),
        "ack_timeout_seconds",
    ),
    (
        "a timeout over a week",
        _with_rule(policy(), 0, steps=_steps(("global_desk", 10**12))),
        "ack_timeout_seconds",
    ),
    (
        "last step not the global desk",
        _with_rule(policy(), 1, steps=_steps(("global_desk", 60), ("ncb", 60))),
        "ack_steps[1]",
    ),
    ("no step", _with_rule(policy(), 2, steps=[]), "ack_steps[2].steps"),
    ("a target twice", _with_rule(policy(), 2, steps=_steps(*[("global_desk", 60)] * 2)), "twice"),
    ("unknown target", _with_rule(policy(), 0, steps=_steps(("pager", 60))), "target"),
    ("no rules at all", policy(ack_steps=[]), "ack_steps"),
    ("a priority uncovered", policy(ack_steps=policy()["ack_steps"][:2]), "missing: routine"),
    (
        "the same rule twice",
        policy(ack_steps=[*policy()["ack_steps"], policy()["ack_steps"][0]]),
        "same type and priority",
    ),
    ("no response times", policy(response_times=[]), "response_times"),
    (
        "a response time of zero",
        policy(response_times=[{"respond_within_hours": 0}]),
        "respond_within_hours",
    ),
    ("missing ack steps", _without(policy(), "ack_steps"), "ack_steps"),
    ("unknown field", policy(escalate_to="president"), "escalate_to"),
    ("unknown type", _with_rule(policy(), 0, type="wiretap"), "ack_steps[0].type"),
    ("NUL in a priority", _with_rule(policy(), 0, priority=f"urgent{NUL}"), "priority"),
    ("zero preservation days", policy(preservation_days=0), "preservation_days"),
    ("not an object", [policy()], "body"),
]


@pytest.mark.parametrize(("case", "body", "says"), BAD_POLICIES, ids=[c[0] for c in BAD_POLICIES])
@pytest.mark.parametrize("path", ["/v1/escalation-policy", "/v1/countries/DE/escalation-policy"])
async def test_a_bad_policy_is_refused_naming_what_is_wrong(
    server: RunningServer,
    world: World,
    database: Database,
    path: str,
    case: str,
    body: Any,
    says: str,
) -> None:
    async with http(server.http) as client:
        response = await put(client, world.gs, path, body)
        read = await client.get(path, headers=world.gs.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"], response.json()
    assert read.json()["document"] == LEGAL_DEFAULT.model_dump(mode="json")
    assert await entries(database, "escalation_policy.changed") == []
