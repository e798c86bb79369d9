"""Countries and their contact-point profiles: who reads what, who changes what, and every
bad profile refused with a 422 that names the field."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.models.enums import Role
from tests.audit_trail import entries
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World, make_contact_point, make_rotation

NUL = "\u0000"
PROFILE = {
    "time_zone": "Europe/Berlin",
    "languages": ["de", "en"],
    "direct_types": ["preservation", "subscriber_info"],
    "mla_types": ["traffic_data"],
    "desk_phone": "+4961155150",
    "desk_email": "247@bka.example.de",
    "notes": "Preservation orders answered within the hour.",
}


async def patch(client: httpx.AsyncClient, party: Party, code: str, body: Any) -> httpx.Response:
    # json.dumps escapes NULs and lone surrogates as a client would send them.
    return await client.patch(
        f"/v1/countries/{code}",
        content=json.dumps(body),
        headers={**party.headers, "Content-Type": "application/json"},
    )


async def test_an_ncb_fills_in_its_country_profile_and_it_is_audited(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        response = await patch(client, world("DE", Role.NCB), "DE", PROFILE)
        assert response.status_code == 200, response.text
        assert {k: response.json()[k] for k in PROFILE} == PROFILE
        read = await client.get("/v1/countries/DE", headers=world.desk("FR").headers)
    assert {k: read.json()[k] for k in PROFILE} == PROFILE
    [entry] = await entries(database, "country.profile_changed", object_id="DE")
    assert entry.details == {"fields": sorted(PROFILE)}
    assert entry.actor_principal_id == world("DE", Role.NCB).principal_id


async def test_a_patch_changes_only_what_it_names_and_a_no_op_is_not_audited(
    server: RunningServer, world: World, database: Database
) -> None:
    ncb = world("DE", Role.NCB)
    async with http(server.http) as client:
        await patch(client, ncb, "DE", PROFILE)
        response = await patch(client, ncb, "DE", {"notes": "", "desk_phone": None})
        again = await patch(client, ncb, "DE", {"notes": ""})
    changed = response.json()
    assert changed["notes"] == ""
    assert changed["desk_phone"] is None
    assert changed["desk_email"] == PROFILE["desk_email"]
    assert changed["languages"] == PROFILE["languages"]
    assert again.status_code == 200
    audited = await entries(database, "country.profile_changed")
    assert [entry.details["fields"] for entry in audited] == [
        sorted(PROFILE),
        ["desk_phone", "notes"],
    ]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (lambda w: w("DE", Role.NCB), 200),
        (lambda w: w.gs, 200),
        (lambda w: w("FR", Role.NCB), 403),
        (lambda w: w.unit("DE"), 403),
        (lambda w: w.desk("DE"), 403),
        (lambda w: w.auditor, 403),
        (lambda w: w.admin, 403),
    ],
    ids=["own NCB", "global desk", "other NCB", "own unit", "own desk", "auditor", "admin"],
)
async def test_who_may_change_a_profile(
    server: RunningServer, world: World, database: Database, who: Any, status: int
) -> None:
    async with http(server.http) as client:
        response = await patch(client, who(world), "DE", {"languages": ["de"]})
    assert response.status_code == status, response.text
    if status == 403:
        assert response.headers["content-type"] == "application/problem+json"
        assert "may not" in response.json()["detail"] or "only" in response.json()["detail"]
        assert await entries(database, "country.profile_changed") == []


async def test_an_unknown_country_is_a_404(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        read = await client.get("/v1/countries/ZZ", headers=world.unit("FR").headers)
        changed = await patch(client, world.gs, "ZZ", {"notes": "x"})
    assert read.status_code == changed.status_code == 404


async def test_desk_contacts_are_shown_to_desks_only(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        await patch(client, world("DE", Role.NCB), "DE", PROFILE)
        seen = {}
        for name, party in {
            "unit": world.unit("FR"),
            "auditor": world.auditor,
            "desk": world.desk("FR"),
            "ncb": world("JP", Role.NCB),
            "gs": world.gs,
        }.items():
            listed = await client.get("/v1/countries", headers=party.headers)
            assert listed.status_code == 200
            germany = next(c for c in listed.json()["items"] if c["code"] == "DE")
            detail = (await client.get("/v1/countries/DE", headers=party.headers)).json()
            assert detail["desk_phone"] == germany["desk_phone"]
            seen[name] = germany["desk_phone"]
    assert seen == {
        "unit": None,
        "auditor": None,
        "desk": PROFILE["desk_phone"],
        "ncb": PROFILE["desk_phone"],
        "gs": PROFILE["desk_phone"],
    }


async def test_the_list_has_every_country_by_code(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        listed = await client.get("/v1/countries", headers=world.unit("JP").headers)
    assert [c["code"] for c in listed.json()["items"]] == ["DE", "FR", "JP"]
    assert listed.json()["items"][0]["time_zone"] == "UTC"


async def test_a_country_shows_its_agencies_and_its_people_to_those_who_may_see_them(
    server: RunningServer, world: World, db: asyncpg.Connection, database: Database
) -> None:
    retired = await make_contact_point(database, world, "DE", "DE retired officer")
    await db.execute(
        "UPDATE principals SET email = 'desk@example.de', phone = '+4930123456' WHERE id = $1",
        world.desk("DE").principal_id,
    )
    await db.execute(
        "UPDATE principals SET disabled_at = now() WHERE id = $1", retired.principal_id
    )
    async with http(server.http) as client:
        people = {}
        for name, party in {
            "own desk": world.desk("DE"),
            "own NCB": world("DE", Role.NCB),
            "gs": world.gs,
            "admin": world.admin,
            "own unit": world.unit("DE"),
            "other NCB": world("FR", Role.NCB),
            "other desk": world.desk("FR"),
            "auditor": world.auditor,
        }.items():
            response = await client.get("/v1/countries/DE", headers=party.headers)
            assert response.status_code == 200
            people[name] = response.json()["contact_points"]
            agencies = response.json()["agencies"]
        # A partner reads nothing of the network's directory.
        refused = await client.get("/v1/countries/DE", headers=world.partner("DE").headers)
        assert refused.status_code == 403, refused.text
    assert sorted((a["name"], a["kind"]) for a in agencies) == [
        ("DE ncb", "ncb"),
        ("DE partner", "partner"),
        ("DE unit", "unit"),
    ]
    expected = [
        {
            "id": str(world.desk("DE").principal_id),
            "name": "DE contact_point",
            "email": "desk@example.de",
            "phone": "+4930123456",
            "disabled": False,
        },
        {
            "id": str(retired.principal_id),
            "name": "DE retired officer",
            "email": None,
            "phone": None,
            "disabled": True,
        },
    ]
    assert people == {
        "own desk": expected,
        "own NCB": expected,
        "gs": expected,
        "admin": expected,
        "own unit": None,
        "other NCB": None,
        "other desk": None,
        "auditor": None,
    }


async def test_the_global_desk_adds_a_country_once(
    server: RunningServer, world: World, database: Database
) -> None:
    body = {"code": "BR", "name": "Brazil", "time_zone": "America/Sao_Paulo"}
    async with http(server.http) as client:
        added = await client.post("/v1/countries", json=body, headers=world.gs.headers)
        again = await client.post("/v1/countries", json=body, headers=world.admin.headers)
        by_ncb = await client.post(
            "/v1/countries", json={**body, "code": "IT"}, headers=world("FR", Role.NCB).headers
        )
        read = await client.get("/v1/countries/BR", headers=world.unit("FR").headers)
    assert added.status_code == 201, added.text
    assert added.headers["location"] == "/v1/countries/BR"
    assert added.json()["time_zone"] == "America/Sao_Paulo"
    assert again.status_code == 409
    assert by_ncb.status_code == 403
    assert read.json()["name"] == "Brazil"
    assert read.json()["agencies"] == []
    [entry] = await entries(database, "country.added")
    assert entry.object_id == "BR"
    assert entry.details == {"name": "Brazil", "time_zone": "America/Sao_Paulo"}


BAD_NEW_COUNTRIES = [
    ("lower-case code", {"code": "br", "name": "Brazil"}, "code"),
    ("three letters", {"code": "BRA", "name": "Brazil"}, "code"),
    ("NUL in code", {"code": f"B{NUL}", "name": "Brazil"}, "code"),
    ("no name", {"code": "BR"}, "name"),
    ("blank name", {"code": "BR", "name": "  "}, "name"),
    ("long name", {"code": "BR", "name": "x" * 101}, "name"),
    ("NUL in name", {"code": "BR", "name": f"Bra{NUL}zil"}, "name: contains a NUL"),
    ("unknown zone", {"code": "BR", "name": "Brazil", "time_zone": "Brazil/Rio"}, "time_zone"),
    ("unknown field", {"code": "BR", "name": "Brazil", "flag": "green"}, "flag"),
]


@pytest.mark.parametrize(
    ("case", "body", "says"), BAD_NEW_COUNTRIES, ids=[c[0] for c in BAD_NEW_COUNTRIES]
)
async def test_a_bad_new_country_is_refused(
    server: RunningServer, world: World, case: str, body: Any, says: str
) -> None:
    async with http(server.http) as client:
        response = await client.post(
            "/v1/countries",
            content=json.dumps(body),
            headers={**world.gs.headers, "Content-Type": "application/json"},
        )
        listed = await client.get("/v1/countries", headers=world.gs.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]
    assert len(listed.json()["items"]) == 3


BAD_PROFILES = [
    ("nothing to change", {}, "no field"),
    ("unknown zone", {"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ("null zone", {"time_zone": None}, "time_zone"),
    ("NUL in zone", {"time_zone": f"UTC{NUL}"}, "time_zone"),
    ("not a language tag", {"languages": ["english"]}, "languages[0]"),
    ("region in lower case", {"languages": ["pt-br"]}, "languages[0]"),
    ("a language twice", {"languages": ["en", "en"]}, "languages"),
    ("null languages", {"languages": None}, "languages"),
    ("too many languages", {"languages": [f"e{c}" for c in "abcdefghijklmnopqrstu"]}, "languages"),
    ("unknown type", {"direct_types": ["wiretap"]}, "direct_types[0]"),
    ("a type twice", {"mla_types": ["preservation", "preservation"]}, "mla_types"),
    (
        "direct and MLA overlap",
        {"direct_types": ["preservation"], "mla_types": ["preservation"]},
        "direct_types and mla_types",
    ),
    ("phone with letters", {"desk_phone": "+33 call us"}, "desk_phone"),
    ("phone without plus", {"desk_phone": "0472447000"}, "desk_phone"),
    ("phone too long", {"desk_phone": "+1234567890123456"}, "desk_phone"),
    ("e-mail without @", {"desk_email": "desk.example.org"}, "desk_email"),
    ("NUL in e-mail", {"desk_email": f"desk@ex{NUL}ample.org"}, "desk_email"),
    ("notes too long", {"notes": "x" * 4001}, "notes"),
    ("NUL in notes", {"notes": f"call{NUL}"}, "notes: contains a NUL"),
    ("lone surrogate in notes", {"notes": "call \ud800"}, "notes"),
    ("null notes", {"notes": None}, "notes"),
    ("unknown field", {"name": "Deutschland"}, "name"),
    ("not an object", ["notes"], "body"),
]


@pytest.mark.parametrize(("case", "body", "says"), BAD_PROFILES, ids=[c[0] for c in BAD_PROFILES])
async def test_a_bad_profile_is_refused_naming_the_field(
    server: RunningServer, world: World, database: Database, case: str, body: Any, says: str
) -> None:
    async with http(server.http) as client:
        response = await patch(client, world("DE", Role.NCB), "DE", body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"], response.json()
    assert await entries(database, "country.profile_changed") == []


async def test_a_type_cannot_join_mla_types_while_it_is_a_direct_type(
    server: RunningServer, world: World
) -> None:
    ncb = world("DE", Role.NCB)
    async with http(server.http) as client:
        await patch(client, ncb, "DE", {"direct_types": ["preservation"]})
        refused = await patch(client, ncb, "DE", {"mla_types": ["preservation", "traffic_data"]})
        moved = await patch(client, ncb, "DE", {"direct_types": [], "mla_types": ["preservation"]})
    assert refused.status_code == 422
    assert "direct_types and mla_types both list preservation" in refused.json()["detail"]
    assert moved.status_code == 200
    assert moved.json()["mla_types"] == ["preservation"]


async def test_a_bad_country_code_in_the_path_is_a_422(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        response = await client.get("/v1/countries/de", headers=world.unit("FR").headers)
    assert response.status_code == 422
    assert "cc" in response.json()["detail"]


async def test_a_body_that_is_not_utf8_is_a_422(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        response = await client.post(
            "/v1/countries",
            content=b'{"code": "BR", "name": "Br\xe9sil"}',
            headers={**world.gs.headers, "Content-Type": "application/json"},
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "body: is not JSON text in UTF-8"


async def test_the_directory_names_who_is_on_duty_to_the_country_and_says_only_whether_to_others(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        unstaffed = await client.get("/v1/countries/DE", headers=world.desk("JP").headers)
    assert unstaffed.json()["staffed_now"] == {"primary": False, "backup": False}

    await make_rotation(database, "DE", [world.desk("DE").principal_id])
    async with http(server.http) as client:
        own = await client.get("/v1/countries/DE", headers=world("DE", Role.NCB).headers)
        other = await client.get("/v1/countries/DE", headers=world.desk("JP").headers)

    assert own.json()["on_duty"]["primary"]["principal_id"] == str(world.desk("DE").principal_id)
    assert own.json()["on_duty"]["backup"] is None
    assert other.json()["staffed_now"] == {"primary": True, "backup": False}
    assert other.json()["on_duty"] is None
