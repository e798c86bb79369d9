"""Agencies and principals over REST: who sees and manages whom, disabling, bad input."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World

NUL = "\u0000"


def ncb(world: World, country: str) -> Party:
    return world(country, Role.NCB)


async def agency_of(client: httpx.AsyncClient, world: World, country: str, kind: str) -> str:
    listed = await client.get(
        "/v1/agencies", params={"country": country, "kind": kind}, headers=world.gs.headers
    )
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 1, items
    agency_id: str = items[0]["id"]
    return agency_id


async def audit_entries(db: asyncpg.Connection, object_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT action, actor_principal_id, details, countries FROM audit_entries "
        "WHERE object_id = $1 "
        "ORDER BY id",
        object_id,
    )
    return rows


# --- /v1/me ---------------------------------------------------------------------------------


async def test_me_says_who_the_caller_is(server: RunningServer, world: World) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        me = (await client.get("/v1/me", headers=unit.headers)).json()
        auditor = (await client.get("/v1/me", headers=world.auditor.headers)).json()
    assert me["principal_id"] == str(unit.principal_id)
    assert me["role"] == "unit"
    assert me["agency"]["id"] == str(unit.agency_id)
    assert me["agency"]["kind"] == "unit"
    assert me["agency"]["country"] == "FR"
    assert me["token"]["prefix"] == unit.token.split("_")[1]
    assert me["token"]["expires_at"] is None
    assert "token" not in me["token"], "the token itself is never sent back"
    assert auditor["role"] == "auditor"
    assert auditor["agency"]["kind"] == "gs"


# --- agencies -------------------------------------------------------------------------------


async def test_everyone_reads_the_agencies_page_by_page(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = await client.get("/v1/agencies", params=params, headers=world.unit("JP").headers)
            assert page.status_code == 200, page.text
            seen += [agency["id"] for agency in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 9  # FR, DE, JP: unit and NCB; the GS; 2 partners
        ncbs = await client.get(
            "/v1/agencies", params={"kind": "ncb"}, headers=world.auditor.headers
        )
        assert {a["country"] for a in ncbs.json()["items"]} == {"FR", "DE", "JP"}
        one = await client.get(f"/v1/agencies/{seen[0]}", headers=world.desk("DE").headers)
        assert one.status_code == 200
        assert one.json()["id"] == seen[0]


async def test_an_ncb_adds_agencies_of_its_own_country_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        added = await client.post(
            "/v1/agencies",
            json={"country": "FR", "kind": "unit", "name": "OFAC"},
            headers=ncb(world, "FR").headers,
        )
        assert added.status_code == 201, added.text
        assert added.headers["location"] == f"/v1/agencies/{added.json()['id']}"
        other = await client.post(
            "/v1/agencies",
            json={"country": "DE", "kind": "unit", "name": "OFAC"},
            headers=ncb(world, "FR").headers,
        )
        assert other.status_code == 403, other.text
        assert "own country" in other.json()["detail"]
        secretariat = await client.post(
            "/v1/agencies",
            json={"country": "FR", "kind": "gs", "name": "Second secretariat"},
            headers=ncb(world, "FR").headers,
        )
        assert secretariat.status_code == 403, "a gs agency belongs to no country"
        by_unit = await client.post(
            "/v1/agencies",
            json={"country": "FR", "kind": "unit", "name": "Other"},
            headers=world.unit("FR").headers,
        )
        assert by_unit.status_code == 403
        again = await client.post(
            "/v1/agencies",
            json={"country": "FR", "kind": "partner", "name": "OFAC"},
            headers=world.gs.headers,
        )
        assert again.status_code == 409, again.text
        by_gs = await client.post(
            "/v1/agencies",
            json={"country": "JP", "kind": "gs", "name": "Global Complex for Innovation"},
            headers=world.gs.headers,
        )
        assert by_gs.status_code == 201, by_gs.text
        unknown = await client.post(
            "/v1/agencies",
            json={"country": "ZZ", "kind": "unit", "name": "Nowhere"},
            headers=world.admin.headers,
        )
        assert unknown.status_code == 422
        assert "country" in unknown.json()["detail"]
    [entry] = await audit_entries(db, added.json()["id"])
    assert entry["action"] == "agency.created"
    assert entry["actor_principal_id"] == ncb(world, "FR").principal_id


# --- principals: who sees whom --------------------------------------------------------------


async def ids_listed(client: httpx.AsyncClient, party: Party, **params: Any) -> set[str]:
    listed = await client.get("/v1/principals", params=params, headers=party.headers)
    assert listed.status_code == 200, listed.text
    return {p["id"] for p in listed.json()["items"]}


async def test_who_sees_which_principals(server: RunningServer, world: World) -> None:
    french = {str(world(*key).principal_id) for key in world.parties if key[0] == "FR"}
    gs_people = {str(p.principal_id) for key, p in world.parties.items() if key[0] == "INT"}
    async with http(server.http) as client:
        assert await ids_listed(client, ncb(world, "FR")) == french
        assert await ids_listed(client, world.desk("FR")) == french
        assert await ids_listed(client, world.unit("FR")) == {str(world.unit("FR").principal_id)}
        assert await ids_listed(client, world.auditor) == {str(world.auditor.principal_id)}
        everyone = await ids_listed(client, world.gs, limit=200)
        assert everyone == {str(p.principal_id) for p in world.parties.values()}
        assert await ids_listed(client, world.gs, role="ncb", country="DE") == {
            str(ncb(world, "DE").principal_id)
        }
        assert await ids_listed(client, world.admin, agency_id=str(world.gs.agency_id)) == (
            gs_people
        )
        for hidden in (world.unit("DE"), world.gs):
            got = await client.get(
                f"/v1/principals/{hidden.principal_id}", headers=ncb(world, "FR").headers
            )
            assert got.status_code == 404, got.text
        own = await client.get(
            f"/v1/principals/{world.unit('FR').principal_id}", headers=ncb(world, "FR").headers
        )
        assert own.status_code == 200
        assert own.json()["role"] == "unit"


# --- principals: who manages whom -----------------------------------------------------------


def new_principal(agency_id: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"agency_id": agency_id, "role": role, "name": f"new {role}", **extra}


async def test_an_ncb_staffs_its_own_country_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    fr_ncb = ncb(world, "FR")
    async with http(server.http) as client:
        fr_unit = await agency_of(client, world, "FR", "unit")
        de_unit = await agency_of(client, world, "DE", "unit")
        gs = str(world.gs.agency_id)

        async def add(body: dict[str, Any], by: Party = fr_ncb) -> httpx.Response:
            return await client.post("/v1/principals", json=body, headers=by.headers)

        made = await add(
            new_principal(fr_unit, "contact_point", email="duty@ofac.example", phone="+33 1 23")
        )
        assert made.status_code == 201, made.text
        assert made.json()["email"] == "duty@ofac.example"
        assert made.json()["country"] == "FR"
        assert (await add(new_principal(de_unit, "unit"))).status_code == 403
        for role in ("gs", "auditor", "admin"):
            refused = await add(new_principal(gs, role))
            assert refused.status_code == 403, (role, refused.text)
        # Grantable, but in an agency of the wrong kind for the role.
        wrong_kind = await add(new_principal(str(fr_ncb.agency_id), "unit"))
        assert wrong_kind.status_code == 422
        assert "belongs to an agency of kind unit" in wrong_kind.json()["detail"]
        # Only an admin makes admins; the General Secretariat staffs everything else.
        assert (await add(new_principal(de_unit, "unit"), world.gs)).status_code == 201
        assert (await add(new_principal(gs, "auditor"), world.gs)).status_code == 201
        # A country's auditor is given by the General Secretariat, never by the NCB it audits,
        # and sits in that country's NCB or unit agency.
        fr_ncb_agency = str(fr_ncb.agency_id)
        assert (await add(new_principal(fr_ncb_agency, "national_auditor"))).status_code == 403
        national = await add(new_principal(fr_ncb_agency, "national_auditor"), world.gs)
        assert national.status_code == 201, national.text
        assert national.json()["country"] == "FR"
        assert (await add(new_principal(gs, "national_auditor"), world.gs)).status_code == 422
        assert (await add(new_principal(gs, "admin"), world.gs)).status_code == 403
        assert (await add(new_principal(gs, "admin"), world.admin)).status_code == 201
        assert (await add(new_principal(fr_unit, "unit"), world.desk("FR"))).status_code == 403
    [entry] = await audit_entries(db, made.json()["id"])
    assert entry["action"] == "principal.created"
    details = json.loads(entry["details"])
    assert details == {"agency_id": fr_unit, "role": "contact_point"}, "no personal data"


async def test_changing_a_principal(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("FR")
    async with http(server.http) as client:

        async def patch(who: Party, by: Party, body: dict[str, Any]) -> httpx.Response:
            return await client.patch(
                f"/v1/principals/{who.principal_id}", json=body, headers=by.headers
            )

        changed = await patch(desk, ncb(world, "FR"), {"email": "desk@fr.example", "phone": None})
        assert changed.status_code == 200, changed.text
        assert changed.json()["email"] == "desk@fr.example"
        assert changed.json()["name"] == "FR contact_point"
        cleared = await patch(desk, world.gs, {"email": None})
        assert cleared.json()["email"] is None
        assert (await patch(desk, ncb(world, "DE"), {"name": "x"})).status_code == 404
        assert (await patch(world.gs, ncb(world, "FR"), {"name": "x"})).status_code == 404
        # A colleague of the same country sees the principal but does not manage it.
        assert (await patch(world.unit("FR"), desk, {"name": "x"})).status_code == 403
        assert (await patch(desk, desk, {"name": "me"})).status_code == 403
    entries = await audit_entries(db, str(desk.principal_id))
    # The refused attempts on it are audited too: another country's NCB (404: one entry for
    # DE, which does not name FR, and one for FR, app/identity/refusals.py), itself (403).
    assert [
        (e["action"], json.loads(e["details"]).get("status"), list(e["countries"])) for e in entries
    ] == [
        ("principal.created", None, ["FR"]),
        *[("principal.changed", None, ["FR"])] * 2,
        ("access.refused", 404, ["DE"]),
        ("access.refused", 404, ["FR"]),
        ("access.refused", 403, ["FR"]),
    ]
    assert json.loads(entries[1]["details"]) == {"fields": ["email"]}, "phone was None already"


async def test_disabling_stops_every_token_and_enabling_restores_them(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk, manager = world.desk("FR"), ncb(world, "FR")
    url = f"/v1/principals/{desk.principal_id}"
    async with http(server.http) as client:
        assert (await client.get("/v1/me", headers=desk.headers)).status_code == 200
        disabled = await client.post(f"{url}/disable", headers=manager.headers)
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["disabled_at"] is not None
        assert (await client.get("/v1/me", headers=desk.headers)).status_code == 401
        again = await client.post(f"{url}/disable", headers=manager.headers)
        assert again.json()["disabled_at"] == disabled.json()["disabled_at"], "idempotent"
        # Kept, with its history, but listed only on request.
        assert str(desk.principal_id) not in await ids_listed(client, manager)
        assert str(desk.principal_id) in await ids_listed(client, manager, include_disabled=True)
        refused = await client.post(
            f"/v1/principals/{desk.principal_id}/tokens", json={}, headers=manager.headers
        )
        assert refused.status_code == 409, "a disabled principal gets no new token"

        enabled = await client.post(f"{url}/enable", headers=manager.headers)
        assert enabled.json()["disabled_at"] is None
        assert (await client.get("/v1/me", headers=desk.headers)).status_code == 200

        myself = await client.post(
            f"/v1/principals/{manager.principal_id}/disable", headers=manager.headers
        )
        assert myself.status_code == 409, myself.text
        assert "yourself" in myself.json()["detail"]
        other_country = await client.post(
            f"/v1/principals/{world.desk('DE').principal_id}/disable", headers=manager.headers
        )
        assert other_country.status_code == 404
        by_desk = await client.post(
            f"/v1/principals/{world.unit('FR').principal_id}/disable", headers=desk.headers
        )
        assert by_desk.status_code == 403
    actions = [e["action"] for e in await audit_entries(db, str(desk.principal_id))]
    assert actions == ["principal.created", "principal.disabled", "principal.enabled"]


# --- bad input ------------------------------------------------------------------------------

SOME_ID = "0b9d1f06-4a57-4b5f-8d5e-1c2b3a4d5e6f"

BAD_CALLS: list[tuple[str, str, str, Any, int, str]] = [
    # (case, method, path, JSON body, status, a phrase of the problem's detail)
    ("NUL in name", "POST", "/v1/principals", {"name": f"a{NUL}b"}, 422, "name: contains a NUL"),
    ("huge name", "POST", "/v1/principals", {"name": "x" * 10_000}, 422, "name"),
    ("blank name", "POST", "/v1/principals", {"name": "   "}, 422, "name"),
    ("bad e-mail", "POST", "/v1/principals", {"email": "nobody"}, 422, "email"),
    ("NUL in e-mail", "POST", "/v1/principals", {"email": f"a{NUL}@b.org"}, 422, "email"),
    ("bad phone", "POST", "/v1/principals", {"phone": "call me"}, 422, "phone"),
    ("bad role", "POST", "/v1/principals", {"role": "king"}, 422, "role"),
    ("unknown agency", "POST", "/v1/principals", {"agency_id": SOME_ID}, 422, "agency_id"),
    ("unknown field", "POST", "/v1/principals", {"password": "x"}, 422, "password"),
    ("unknown principal", "GET", f"/v1/principals/{SOME_ID}", None, 404, "no principal"),
    ("bad principal id", "GET", "/v1/principals/42", None, 422, "principal_id"),
    ("disable unknown", "POST", f"/v1/principals/{SOME_ID}/disable", None, 404, "no principal"),
    ("empty change", "PATCH", "/v1/principals/{self}", {}, 422, "nothing to change"),
    ("remove name", "PATCH", "/v1/principals/{self}", {"name": None}, 422, "cannot be removed"),
    ("huge agency name", "POST", "/v1/agencies", {"name": "x" * 10_000}, 422, "name"),
    ("NUL in agency name", "POST", "/v1/agencies", {"name": f"{NUL}"}, 422, "name"),
    ("lower-case country", "POST", "/v1/agencies", {"country": "fr"}, 422, "country"),
    ("bad kind", "POST", "/v1/agencies", {"kind": "club"}, 422, "kind"),
    ("unknown agency id", "GET", f"/v1/agencies/{SOME_ID}", None, 404, "no agency"),
    ("bad cursor", "GET", "/v1/principals?cursor=xyz", None, 422, "cursor"),
    ("bad country filter", "GET", "/v1/agencies?country=France", None, 422, "country"),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "status", "says"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
async def test_bad_input_is_a_problem_that_names_the_field(
    server: RunningServer,
    world: World,
    case: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    says: str,
) -> None:
    manager = world.gs
    defaults: dict[str, Any] = {}
    if path == "/v1/principals" and method == "POST":
        defaults = new_principal(str(ncb(world, "FR").agency_id), "contact_point")
    elif path == "/v1/agencies" and method == "POST":
        defaults = {"country": "FR", "kind": "unit", "name": "New unit"}
    payload = None if body is None else {**defaults, **body}
    async with http(server.http) as client:
        response = await client.request(
            method,
            path.replace("{self}", str(world.desk("FR").principal_id)),
            # json.dumps escapes NUL as \u0000, as a client would send it.
            content=None if payload is None else json.dumps(payload),
            headers={**manager.headers, "Content-Type": "application/json"},
        )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"], response.json()


async def test_a_body_that_is_not_utf8_is_invalid_input(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        response = await client.post(
            "/v1/agencies",
            content=b'{"name": "\xff\xfe"}',
            headers={**world.gs.headers, "Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": "body", "message": "is not JSON text in UTF-8"}]
