"""Access agreements over the API: granting, reading, changing, ending; who may do which, to
which country's agreements; every bad grant refused; all of it audited."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests.audit_trail import entries
from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World

NUL = "\u0000"


@pytest.fixture(autouse=True)
async def _only_the_agreements_granted_here(world: World, db: asyncpg.Connection) -> None:
    """make_world grants every unit an all-scope agreement (so that units can send); these
    tests list and count the agreements they grant themselves."""
    await db.execute("DELETE FROM access_agreements")


def grant_body(party_or_agency: Party | uuid.UUID, **overrides: Any) -> dict[str, Any]:
    agency = (
        party_or_agency if isinstance(party_or_agency, uuid.UUID) else party_or_agency.agency_id
    )
    return {"agency_id": str(agency), **overrides}


async def post(client: httpx.AsyncClient, party: Party, path: str, body: Any) -> httpx.Response:
    # json.dumps escapes NULs as a client would send them.
    return await client.post(
        path,
        content=json.dumps(body),
        headers={**party.headers, "Content-Type": "application/json"},
    )


async def grant(
    client: httpx.AsyncClient, granter: Party, grantee: Party, **scope: Any
) -> dict[str, Any]:
    response = await post(client, granter, "/v1/agreements", grant_body(grantee, **scope))
    assert response.status_code == 201, response.text
    granted: dict[str, Any] = response.json()
    return granted


async def test_an_ncb_grants_its_unit_an_agreement_and_it_is_audited(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb, unit = world("FR", Role.NCB), world.unit("FR")
    scope = {
        "request_types": ["preservation", "subscriber_info"],
        "target_countries": ["DE", "JP"],
        "priorities": ["urgent", "routine"],
        "valid_until": "2099-01-01T00:00:00Z",
        "conditions": "Only for the ransomware task force.",
    }
    async with http(server.http) as client:
        response = await post(client, ncb, "/v1/agreements", grant_body(unit, **scope))
        read = await client.get(response.headers["location"], headers=unit.headers)
    assert response.status_code == 201, response.text
    granted = response.json()
    assert response.headers["etag"] == '"1"'
    assert {k: granted[k] for k in scope if k != "valid_until"} == {
        k: v for k, v in scope.items() if k != "valid_until"
    }
    assert granted["valid_until"].startswith("2099-01-01T00:00:00")
    assert granted["agency_id"] == str(unit.agency_id)
    assert granted["country"] == "FR"
    assert granted["state"] == "active"
    assert granted["ended_at"] is None
    assert granted["created_by"] == str(ncb.principal_id)
    assert granted["valid_from"] == granted["created_at"]  # the database clock, at grant time
    assert read.json() == granted

    [entry] = await entries(database, "agreement.granted", object_id=granted["id"])
    assert entry.object_type == "access_agreement"
    assert entry.actor_principal_id == ncb.principal_id
    assert entry.details["scope"] == {
        "agency_id": str(unit.agency_id),
        "country": "FR",
        "request_types": scope["request_types"],
        "target_countries": scope["target_countries"],
        "priorities": scope["priorities"],
        "valid_from": entry.details["scope"]["valid_from"],
        "valid_until": "2099-01-01T00:00:00+00:00",
        "four_eyes": False,  # no second officer's approval asked (docs/four-eyes.md)
    }


async def test_a_null_scope_means_all(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        granted = await grant(client, world("DE", Role.NCB), world.unit("DE"))
    assert granted["request_types"] is None
    assert granted["target_countries"] is None
    assert granted["priorities"] is None
    assert granted["valid_until"] is None
    assert granted["conditions"] == ""


async def test_an_ncb_grants_only_to_agencies_of_its_own_country(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        refused = await post(
            client, world("FR", Role.NCB), "/v1/agreements", grant_body(world.unit("DE"))
        )
        by_gs = await post(client, world.gs, "/v1/agreements", grant_body(world.unit("DE")))
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "agency_id: DE unit belongs to DE: an NCB grants agreements to agencies of its own country"
    )
    assert by_gs.status_code == 201
    assert by_gs.json()["country"] == "DE"
    assert len(await entries(database, "agreement.granted")) == 1


@pytest.mark.parametrize(
    "who",
    [
        lambda w: w.unit("FR"),
        lambda w: w.desk("FR"),
        lambda w: w.auditor,
        lambda w: w.admin,
    ],
    ids=["unit", "contact point", "auditor", "admin"],
)
async def test_only_ncbs_and_the_global_desk_grant(
    server: RunningServer, world: World, who: Any
) -> None:
    async with http(server.http) as client:
        response = await post(client, who(world), "/v1/agreements", grant_body(world.unit("FR")))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_visibility_follows_the_policy(server: RunningServer, world: World) -> None:
    """A unit sees its own agency's agreements, an NCB its country's, the global desk and
    auditors all; anything else does not exist for the caller (404, and not in the list)."""
    async with http(server.http) as client:
        france = await grant(client, world("FR", Role.NCB), world.unit("FR"))
        germany = await grant(client, world("DE", Role.NCB), world.unit("DE"))
        seen = {}
        for name, party in {
            "FR unit": world.unit("FR"),
            "FR desk": world.desk("FR"),
            "FR NCB": world("FR", Role.NCB),
            "DE NCB": world("DE", Role.NCB),
            "JP unit": world.unit("JP"),
            "gs": world.gs,
            "auditor": world.auditor,
            "admin": world.admin,
        }.items():
            listed = await client.get("/v1/agreements", headers=party.headers)
            assert listed.status_code == 200
            one = await client.get(f"/v1/agreements/{france['id']}", headers=party.headers)
            ids = {item["id"] for item in listed.json()["items"]}
            assert (one.status_code == 200) == (france["id"] in ids), name
            assert one.status_code in (200, 404)
            seen[name] = {code for code, a in (("FR", france), ("DE", germany)) if a["id"] in ids}
    assert seen == {
        "FR unit": {"FR"},
        "FR desk": set(),
        "FR NCB": {"FR"},
        "DE NCB": {"DE"},
        "JP unit": set(),
        "gs": {"FR", "DE"},
        "auditor": {"FR", "DE"},
        "admin": set(),
    }


async def test_the_list_filters_and_pages(server: RunningServer, world: World) -> None:
    gs = world.gs
    async with http(server.http) as client:
        made = [await grant(client, gs, world.unit(code)) for code in ("FR", "DE", "JP", "FR")]
        ended = await client.post(f"/v1/agreements/{made[0]['id']}/end", headers=gs.headers)
        assert ended.status_code == 200

        async def ids(**params: Any) -> list[str]:
            response = await client.get("/v1/agreements", params=params, headers=gs.headers)
            assert response.status_code == 200, response.text
            return [item["id"] for item in response.json()["items"]]

        by_country = await ids(country="FR")
        by_agency = await ids(agency_id=str(world.unit("DE").agency_id))
        active = await ids(active="true")
        inactive = await ids(active="false")
        pages, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/agreements", params=params, headers=gs.headers)).json()
            pages.append([item["id"] for item in page["items"]])
            if (cursor := page["next_cursor"]) is None:
                break
    newest_first = [a["id"] for a in reversed(made)]
    assert by_country == [made[3]["id"], made[0]["id"]]
    assert by_agency == [made[1]["id"]]
    assert active == newest_first[:3]
    assert inactive == [made[0]["id"]]
    assert pages == [newest_first[:3], newest_first[3:]]


async def test_state_shows_scheduled_expired_and_ended(server: RunningServer, world: World) -> None:
    ncb, unit = world("JP", Role.NCB), world.unit("JP")
    async with http(server.http) as client:
        scheduled = await grant(client, ncb, unit, valid_from="2090-01-01T00:00:00+09:00")
        expired = await grant(
            client,
            ncb,
            unit,
            valid_from="2020-01-01T00:00:00Z",
            valid_until="2021-01-01T00:00:00Z",
        )
        active = await grant(client, ncb, unit, valid_from="2020-01-01T00:00:00Z")
        ended = await client.post(f"/v1/agreements/{active['id']}/end", headers=ncb.headers)
        listed = await client.get("/v1/agreements?active=true", headers=ncb.headers)
    assert scheduled["state"] == "scheduled"
    assert scheduled["valid_from"].startswith("2089-12-31T15:00:00")  # normalised to UTC
    assert expired["state"] == "expired"
    assert ended.json()["state"] == "ended"
    assert listed.json()["items"] == []


async def test_an_ncb_changes_its_agreement_and_the_change_is_audited_before_and_after(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb, unit = world("FR", Role.NCB), world.unit("FR")
    async with http(server.http) as client:
        granted = await grant(client, ncb, unit, request_types=["preservation"])
        response = await client.patch(
            f"/v1/agreements/{granted['id']}",
            json={
                "request_types": None,
                "target_countries": ["DE"],
                "valid_until": "2030-06-01T12:00:00+02:00",
                "conditions": "Reviewed.",
            },
            headers={**ncb.headers, "If-Match": '"1"'},
        )
        unchanged = await client.patch(
            f"/v1/agreements/{granted['id']}", json={"conditions": "Reviewed."}, headers=ncb.headers
        )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert response.headers["etag"] == '"2"'
    assert changed["request_types"] is None
    assert changed["target_countries"] == ["DE"]
    assert changed["priorities"] is None
    assert changed["valid_until"].startswith("2030-06-01T10:00:00")
    assert changed["version"] == 2
    assert unchanged.json()["version"] == 2

    [entry] = await entries(database, "agreement.changed", object_id=granted["id"])
    assert entry.details["before"] == {
        "conditions": "",
        "request_types": ["preservation"],
        "target_countries": None,
        "valid_until": None,
    }
    assert entry.details["after"] == {
        "conditions": "Reviewed.",
        "request_types": None,
        "target_countries": ["DE"],
        "valid_until": "2030-06-01T10:00:00+00:00",
    }
    assert entry.details["version"] == 2


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (lambda w: w("FR", Role.NCB), 200),
        (lambda w: w.gs, 200),
        (lambda w: w("DE", Role.NCB), 404),
        (lambda w: w.unit("FR"), 403),
        (lambda w: w.auditor, 403),
        (lambda w: w.unit("DE"), 404),
        (lambda w: w.desk("FR"), 404),
        (lambda w: w.admin, 404),
    ],
    ids=[
        "own NCB",
        "global desk",
        "other NCB",
        "own unit",
        "auditor",
        "other unit",
        "desk",
        "admin",
    ],
)
async def test_who_may_change_or_end_an_agreement(
    server: RunningServer, world: World, database: Database, who: Any, status: int
) -> None:
    party = who(world)
    async with http(server.http) as client:
        granted = await grant(client, world("FR", Role.NCB), world.unit("FR"))
        path = f"/v1/agreements/{granted['id']}"
        changed = await client.patch(path, json={"conditions": "x"}, headers=party.headers)
        ended = await client.post(f"{path}/end", headers=party.headers)
    assert changed.status_code == ended.status_code == status, changed.text
    if status != 200:
        assert changed.headers["content-type"] == "application/problem+json"
        assert await entries(database, "agreement.changed") == []
        assert await entries(database, "agreement.ended") == []


async def test_ending_is_once_and_an_ended_agreement_cannot_change(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb = world("DE", Role.NCB)
    async with http(server.http) as client:
        granted = await grant(client, ncb, world.unit("DE"), priorities=["routine"])
        path = f"/v1/agreements/{granted['id']}"
        ended = await client.post(f"{path}/end", headers=ncb.headers)
        again = await client.post(f"{path}/end", headers=ncb.headers)
        changed = await client.patch(path, json={"conditions": "revived"}, headers=ncb.headers)
    assert ended.status_code == 200
    assert ended.json()["state"] == "ended"
    assert ended.json()["ended_at"] is not None
    assert ended.json()["version"] == 2
    assert again.status_code == 409
    assert "was ended at" in again.json()["detail"]
    assert changed.status_code == 409
    [entry] = await entries(database, "agreement.ended", object_id=granted["id"])
    assert entry.details["scope"]["priorities"] == ["routine"]
    assert entry.details["ended_at"] == ended.json()["ended_at"].replace("Z", "+00:00")


async def test_two_concurrent_ends_one_wins_the_other_is_a_409(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        granted = await grant(client, ncb, world.unit("FR"))
    path = f"/v1/agreements/{granted['id']}/end"
    for _ in range(5):  # a few rounds, so the two really race
        async with http(server.http) as one, http(server.http) as other:
            answers = await asyncio.gather(
                one.post(path, headers=ncb.headers), other.post(path, headers=world.gs.headers)
            )
        if all(a.status_code == 409 for a in answers):
            continue  # ended in an earlier round
        assert sorted(a.status_code for a in answers) == [200, 409]
    assert len(await entries(database, "agreement.ended")) == 1


async def test_a_stale_if_match_is_refused(server: RunningServer, world: World) -> None:
    ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        granted = await grant(client, ncb, world.unit("FR"))
        path = f"/v1/agreements/{granted['id']}"
        first = await client.patch(
            path, json={"conditions": "a"}, headers={**ncb.headers, "If-Match": '"1"'}
        )
        second = await client.patch(
            path, json={"conditions": "b"}, headers={**ncb.headers, "If-Match": '"1"'}
        )
        read = await client.get(path, headers=ncb.headers)
    assert first.status_code == 200
    assert second.status_code == 412
    assert read.json()["conditions"] == "a"


async def test_ending_leaves_requests_already_sent_untouched(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        granted = await grant(client, world("FR", Role.NCB), world.unit("FR"))
        sent = await submit_request(client, world.unit("FR"))
        before = await db.fetchrow("SELECT * FROM requests WHERE id = $1", uuid.UUID(sent["id"]))
        ended = await client.post(
            f"/v1/agreements/{granted['id']}/end", headers=world("FR", Role.NCB).headers
        )
        read = await client.get(f"/v1/requests/{sent['id']}", headers=world.unit("FR").headers)
    after = await db.fetchrow("SELECT * FROM requests WHERE id = $1", uuid.UUID(sent["id"]))
    assert ended.status_code == 200
    assert read.status_code == 200
    assert dict(after) == dict(before)


async def test_unknown_or_invisible_ids_are_404(server: RunningServer, world: World) -> None:
    missing = uuid.uuid4()
    gs = world.gs
    async with http(server.http) as client:
        answers = [
            await client.get(f"/v1/agreements/{missing}", headers=gs.headers),
            await client.patch(
                f"/v1/agreements/{missing}", json={"conditions": ""}, headers=gs.headers
            ),
            await client.post(f"/v1/agreements/{missing}/end", headers=gs.headers),
        ]
    assert [a.status_code for a in answers] == [404, 404, 404]


def _bad_grants(world: World) -> list[tuple[str, Any, str]]:
    fr = world.unit("FR")
    return [
        ("unknown agency", grant_body(uuid.uuid4()), "agency_id: there is no agency"),
        ("an NCB as grantee", grant_body(world("FR", Role.NCB)), "agency_id: FR ncb is an agency"),
        ("the GS as grantee", grant_body(world.gs), "agency_id: General Secretariat is an"),
        ("bad agency id", {"agency_id": "42"}, "agency_id"),
        ("no agency", {}, "agency_id"),
        ("own country as target", grant_body(fr, target_countries=["DE", "FR"]), "FR, the agency"),
        ("unknown target", grant_body(fr, target_countries=["DE", "ZZ"]), "ZZ is not a country"),
        ("lower-case target", grant_body(fr, target_countries=["de"]), "target_countries[0]"),
        ("empty targets", grant_body(fr, target_countries=[]), "send null for all"),
        ("empty types", grant_body(fr, request_types=[]), "request_types: Value error, an empty"),
        ("empty priorities", grant_body(fr, priorities=[]), "priorities: Value error, an empty"),
        ("a type twice", grant_body(fr, request_types=["preservation"] * 2), "more than once"),
        ("unknown type", grant_body(fr, request_types=["wiretap"]), "request_types[0]"),
        ("unknown priority", grant_body(fr, priorities=["asap"]), "priorities[0]"),
        (
            "until before from",
            grant_body(fr, valid_from="2030-01-02T00:00:00Z", valid_until="2030-01-01T00:00:00Z"),
            "valid_until must be after valid_from",
        ),
        (
            "until equal to from",
            grant_body(
                fr, valid_from="2030-01-01T00:00:00Z", valid_until="2030-01-01T01:00:00+01:00"
            ),
            "valid_until must be after valid_from",
        ),
        (
            "until in the past, from now",
            grant_body(fr, valid_until="2001-01-01T00:00:00Z"),
            "valid_until must be after valid_from",
        ),
        ("a time without offset", grant_body(fr, valid_from="2030-01-01T00:00:00"), "valid_from"),
        ("year 10000", grant_body(fr, valid_until="10000-01-01T00:00:00Z"), "valid_until"),
        (
            "past year 9999 in UTC",
            grant_body(fr, valid_until="9999-12-31T23:30:00-01:00"),
            "valid_until",
        ),
        (
            "before year 1 in UTC",
            grant_body(fr, valid_from="0001-01-01T00:30:00+01:00"),
            "valid_from",
        ),
        ("not a time", grant_body(fr, valid_until="next year"), "valid_until"),
        (
            "NUL in conditions",
            grant_body(fr, conditions=f"only{NUL}"),
            "conditions: contains a NUL",
        ),
        ("long conditions", grant_body(fr, conditions="x" * 4001), "conditions"),
        ("NUL in a target", grant_body(fr, target_countries=[f"D{NUL}"]), "target_countries[0]"),
        ("unknown field", grant_body(fr, agency="FR unit"), "agency"),
        ("not an object", [grant_body(fr)], "body"),
    ]


async def test_every_bad_grant_is_a_422_naming_the_field(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        for case, body, says in _bad_grants(world):
            response = await post(client, ncb, "/v1/agreements", body)
            assert response.status_code == 422, (case, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert says in response.json()["detail"], (case, response.json())
        listed = await client.get("/v1/agreements", headers=world.gs.headers)
    assert listed.json()["items"] == []
    assert await entries(database, "agreement.granted") == []


async def test_extreme_but_valid_dates_are_kept(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        granted = await grant(
            client,
            world("FR", Role.NCB),
            world.unit("FR"),
            valid_from="0001-01-01T00:00:00Z",
            valid_until="9999-12-31T23:59:59.999999Z",
        )
    assert granted["state"] == "active"
    assert granted["valid_from"].startswith("0001-01-01T00:00:00")
    assert granted["valid_until"].startswith("9999-12-31T23:59:59.999999")


BAD_CHANGES: list[tuple[str, Any, str]] = [
    ("nothing", {}, "no field"),
    ("empty targets", {"target_countries": []}, "send null for all"),
    ("own country", {"target_countries": ["FR"]}, "FR, the agency's own country"),
    ("unknown target", {"target_countries": ["ZZ"]}, "ZZ is not a country"),
    ("until before from", {"valid_until": "2001-01-01T00:00:00Z"}, "valid_until must be after"),
    ("null conditions", {"conditions": None}, "conditions"),
    ("NUL in conditions", {"conditions": NUL}, "conditions"),
    ("valid_from cannot change", {"valid_from": "2030-01-01T00:00:00Z"}, "valid_from"),
    ("agency cannot change", {"agency_id": str(uuid.uuid4())}, "agency_id"),
]


async def test_every_bad_change_is_a_422_and_changes_nothing(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb = world("FR", Role.NCB)
    async with http(server.http) as client:
        granted = await grant(client, ncb, world.unit("FR"), valid_from="2020-01-01T00:00:00Z")
        path = f"/v1/agreements/{granted['id']}"
        for case, body, says in BAD_CHANGES:
            response = await client.patch(
                path,
                content=json.dumps(body),
                headers={**ncb.headers, "Content-Type": "application/json"},
            )
            assert response.status_code == 422, (case, response.text)
            assert says in response.json()["detail"], (case, response.json())
        bad_if_match = await client.patch(
            path, json={"conditions": "x"}, headers={**ncb.headers, "If-Match": "1"}
        )
        read = await client.get(path, headers=ncb.headers)
    assert bad_if_match.status_code == 422
    assert read.json() == granted
    assert await entries(database, "agreement.changed") == []


async def test_bad_list_parameters_are_422(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        for params, says in (
            ({"agency_id": "FR"}, "agency_id"),
            ({"country": "fr"}, "country"),
            ({"active": "maybe"}, "active"),
            ({"limit": "0"}, "limit"),
            ({"cursor": "not-a-cursor"}, "cursor"),
            ({"cursor": NUL}, "cursor"),
        ):
            response = await client.get("/v1/agreements", params=params, headers=world.gs.headers)
            assert response.status_code == 422, (params, response.text)
            assert says in response.json()["detail"]
