"""Tokens over REST: issue, list, rotate with an overlap, revoke; sockets of a revoked token
or a disabled principal closed on another instance; last use written in batches."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.identity.token_usage import TokenUsage
from app.models.enums import Role
from tests.clients import Dashboard, http
from tests.conftest import RunningServer, free_port
from tests.factories import Party, World
from tests.processes import environment, serving
from tests.test_socket_lifetime import closed_with
from tests.waiting import eventually

NUL = "\u0000"


def with_token(party: Party, token: str) -> Party:
    return Party(party.principal_id, party.agency_id, party.country, party.role, token)


def prefix_of(party: Party) -> str:
    return party.token.split("_")[1]


async def issue(client: httpx.AsyncClient, party: Party, by: Party, **body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/principals/{party.principal_id}/tokens", json=body, headers=by.headers
    )


async def works(client: httpx.AsyncClient, token: str) -> bool:
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def test_a_new_token_is_shown_once_and_listed_without_its_secret(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk, manager = world.desk("FR"), world("FR", Role.NCB)
    expiry = datetime.now(UTC) + timedelta(days=90)
    async with http(server.http) as client:
        made = await issue(client, desk, manager, label="dashboard", expires_at=expiry.isoformat())
        assert made.status_code == 201, made.text
        assert made.headers["cache-control"] == "no-store"
        token = made.json()["token"]
        assert token.startswith(f"r247_{made.json()['prefix']}_")
        assert made.json()["state"] == "active"
        assert await works(client, token)
        listed = await client.get(
            f"/v1/principals/{desk.principal_id}/tokens", headers=manager.headers
        )
    assert listed.status_code == 200, listed.text
    assert "cache-control" not in listed.headers
    items = listed.json()["items"]
    assert [t["prefix"] for t in items] == [made.json()["prefix"], prefix_of(desk)]
    assert items[0]["label"] == "dashboard"
    assert datetime.fromisoformat(items[0]["expires_at"]) == expiry
    for listed_token in items:
        assert "token" not in listed_token
        assert "secret_hash" not in listed_token
    assert token.split("_", 2)[2] not in listed.text
    [entry] = await db.fetch(
        "SELECT actor_principal_id, details FROM audit_entries WHERE action = 'token.created' "
        "AND actor_principal_id IS NOT NULL"
    )
    assert entry["actor_principal_id"] == manager.principal_id
    assert token.split("_", 2)[2] not in entry["details"]


async def test_a_principal_manages_its_own_tokens_but_not_others(
    server: RunningServer, world: World
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        own = await client.get(f"/v1/principals/{unit.principal_id}/tokens", headers=unit.headers)
        assert own.status_code == 200
        spare = await issue(client, unit, unit, label="spare")
        assert spare.status_code == 201, spare.text
        rotated = await client.post(
            f"/v1/tokens/{spare.json()['prefix']}/rotate",
            json={"overlap_seconds": 0},
            headers=unit.headers,
        )
        assert rotated.status_code == 201, rotated.text
        revoked = await client.post(
            f"/v1/tokens/{rotated.json()['prefix']}/revoke", headers=unit.headers
        )
        assert revoked.status_code == 200, revoked.text

        # Principals it cannot see do not exist for it; its desk colleague it sees but may not
        # manage (a contact point sees its country's people).
        for other in (world.unit("DE"), world.desk("FR"), world.gs):
            for method, path in (
                ("GET", f"/v1/principals/{other.principal_id}/tokens"),
                ("POST", f"/v1/principals/{other.principal_id}/tokens"),
                ("POST", f"/v1/tokens/{prefix_of(other)}/revoke"),
                ("POST", f"/v1/tokens/{prefix_of(other)}/rotate"),
            ):
                response = await client.request(method, path, json={}, headers=unit.headers)
                assert response.status_code == 404, (other.role, path, response.text)
        desk = world.desk("FR")
        seen_not_managed = await client.get(
            f"/v1/principals/{unit.principal_id}/tokens", headers=desk.headers
        )
        assert seen_not_managed.status_code == 403
        assert "self only" in seen_not_managed.json()["detail"]
        # The NCB manages its country's tokens, not another country's nor the GS's.
        fr_ncb = world("FR", Role.NCB)
        assert (
            await client.post(f"/v1/tokens/{prefix_of(desk)}/revoke", headers=fr_ncb.headers)
        ).status_code == 200
        for other in (world.desk("DE"), world.auditor):
            refused = await client.post(
                f"/v1/tokens/{prefix_of(other)}/revoke", headers=fr_ncb.headers
            )
            assert refused.status_code == 404
        # The General Secretariat manages every token.
        assert (
            await client.post(
                f"/v1/tokens/{prefix_of(world.desk('JP'))}/revoke", headers=world.gs.headers
            )
        ).status_code == 200


async def test_a_partner_rotates_its_own_token_and_sees_no_one_else(
    server: RunningServer, world: World
) -> None:
    """A partner's feed rotates its credential like any system; it sees no other principal,
    not even its own agency's NCB-less neighbours or the other partner."""
    partner = world.partner("DE")
    async with http(server.http) as client:
        me = await client.get("/v1/me", headers=partner.headers)
        assert (me.status_code, me.json()["role"]) == (200, "partner"), me.text
        own = await client.get(
            f"/v1/principals/{partner.principal_id}/tokens", headers=partner.headers
        )
        assert own.status_code == 200, own.text
        rotated = await client.post(
            f"/v1/tokens/{prefix_of(partner)}/rotate",
            json={"overlap_seconds": 60},
            headers=partner.headers,
        )
        assert rotated.status_code == 201, rotated.text
        for other in (world.partner("FR"), world.unit("DE"), world.gs):
            listed = await client.get(
                f"/v1/principals/{other.principal_id}/tokens", headers=partner.headers
            )
            assert listed.status_code == 404, (other.role, listed.text)


OVERLAP_SECONDS = 600


async def test_rotation_keeps_the_old_token_for_the_overlap_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        rotated = await client.post(
            f"/v1/tokens/{prefix_of(desk)}/rotate",
            json={"overlap_seconds": OVERLAP_SECONDS},
            headers=desk.headers,
        )
        assert rotated.status_code == 201, rotated.text
        assert rotated.headers["cache-control"] == "no-store"
        new = rotated.json()
        assert new["principal_id"] == str(desk.principal_id)
        assert await works(client, new["token"])
        assert await works(client, desk.token), "the old token works during the overlap"

        again = await client.post(f"/v1/tokens/{prefix_of(desk)}/rotate", headers=desk.headers)
        assert again.status_code == 409, "a token rotates once"
        assert new["prefix"] in again.json()["detail"]

        # The overlap ends that long after the rotation, on the database's clock; then its
        # end is made to have passed.
        overlap = await db.fetchval(
            "SELECT old.expires_at - new.created_at FROM api_tokens old "
            "JOIN api_tokens new ON new.id = old.replaced_by WHERE old.prefix = $1",
            prefix_of(desk),
        )
        assert overlap == timedelta(seconds=OVERLAP_SECONDS)
        await db.execute(
            "UPDATE api_tokens SET expires_at = now() WHERE prefix = $1", prefix_of(desk)
        )
        assert not await works(client, desk.token), "the overlap is over"
        assert await works(client, new["token"])
        listed = await client.get(
            f"/v1/principals/{desk.principal_id}/tokens",
            headers={"Authorization": f"Bearer {new['token']}"},
        )
        old = next(t for t in listed.json()["items"] if t["prefix"] == prefix_of(desk))
        assert old["state"] == "expired"
        assert old["replaced_by"] == new["prefix"]
        expired = await client.post(
            f"/v1/tokens/{prefix_of(desk)}/rotate",
            headers={"Authorization": f"Bearer {new['token']}"},
        )
        assert expired.status_code == 409
        assert "expired" in expired.json()["detail"]
    [entry] = await db.fetch("SELECT details FROM audit_entries WHERE action = 'token.rotated'")
    details = json.loads(entry["details"])
    assert details["prefix"] == prefix_of(desk)
    assert details["replaced_by"] == new["prefix"]
    assert new["token"].split("_", 2)[2] not in entry["details"]


async def test_rotation_keeps_the_lifetime_and_never_extends_the_old_token(
    server: RunningServer, world: World
) -> None:
    desk, gs = world.desk("JP"), world.gs
    async with http(server.http) as client:
        short = await issue(
            client, desk, gs, expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
        )
        rotated = await client.post(
            f"/v1/tokens/{short.json()['prefix']}/rotate",
            json={"overlap_seconds": 86_400},
            headers=gs.headers,
        )
        assert rotated.status_code == 201, rotated.text
        listed = await client.get(f"/v1/principals/{desk.principal_id}/tokens", headers=gs.headers)
    by_prefix = {t["prefix"]: t for t in listed.json()["items"]}
    old = by_prefix[short.json()["prefix"]]
    assert old["expires_at"] == short.json()["expires_at"], "the overlap never extends a token"
    lifetime = datetime.fromisoformat(rotated.json()["expires_at"]) - datetime.fromisoformat(
        rotated.json()["created_at"]
    )
    assert abs(lifetime - timedelta(hours=1)) < timedelta(seconds=5)


async def test_a_revoked_token_is_refused_at_once_and_revoking_is_idempotent(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    unit = world.unit("JP")
    async with http(server.http) as client:
        spare = (await issue(client, unit, unit)).json()
        # Used just before: admission remembers it working (app/api/admission.py), and the
        # request's own lookup still refuses it the moment it is revoked.
        assert await works(client, spare["token"])
        first = await client.post(f"/v1/tokens/{spare['prefix']}/revoke", headers=unit.headers)
        assert first.status_code == 200
        assert first.json()["state"] == "revoked"
        assert not await works(client, spare["token"])
        second = await client.post(f"/v1/tokens/{spare['prefix']}/revoke", headers=unit.headers)
        assert second.json() == first.json()
        rotate = await client.post(f"/v1/tokens/{spare['prefix']}/rotate", headers=unit.headers)
        assert rotate.status_code == 409
        # Its own token revoked, the principal is locked out: the 401 comes first.
        own = await client.post(f"/v1/tokens/{prefix_of(unit)}/revoke", headers=unit.headers)
        assert own.status_code == 200
        assert not await works(client, unit.token)
    revocations = await db.fetchval(
        "SELECT count(*) FROM audit_entries WHERE action = 'token.revoked'"
    )
    assert revocations == 2


BAD_CALLS: list[tuple[str, str, str, Any, int, str]] = [
    ("upper-case prefix", "POST", "/v1/tokens/ABCDEF012345/revoke", None, 422, "prefix"),
    ("short prefix", "POST", "/v1/tokens/abc/rotate", None, 422, "prefix"),
    ("whole token as prefix", "POST", "/v1/tokens/r247_abc_def/revoke", None, 422, "prefix"),
    ("NUL in prefix", "POST", "/v1/tokens/abcdef01234%00/revoke", None, 422, "prefix"),
    ("unknown prefix", "POST", "/v1/tokens/0123456789ab/revoke", None, 404, "no token"),
    (
        "negative overlap",
        "POST",
        "/v1/tokens/{own}/rotate",
        {"overlap_seconds": -1},
        422,
        "overlap",
    ),
    (
        "overlap over a day",
        "POST",
        "/v1/tokens/{own}/rotate",
        {"overlap_seconds": 86_401},
        422,
        "overlap",
    ),
    (
        "past expiry",
        "POST",
        "/v1/principals/{me}/tokens",
        {"expires_at": "2000-01-01T00:00:00Z"},
        422,
        "expires_at",
    ),
    (
        "naive expiry",
        "POST",
        "/v1/principals/{me}/tokens",
        {"expires_at": "2099-01-01T00:00:00"},
        422,
        "expires_at",
    ),
    (
        "expiry out of range",
        "POST",
        "/v1/principals/{me}/tokens",
        {"expires_at": "9999-12-31T23:59:59-14:00"},
        422,
        "expires_at",
    ),
    (
        # Representable, but a rotation adds its lifetime to now: it must never run off the
        # calendar.
        "expiry beyond any plan",
        "POST",
        "/v1/principals/{me}/tokens",
        {"expires_at": "9999-12-31T23:59:59Z"},
        422,
        "expires_at: must fall in the years 1970 to 2999",
    ),
    ("NUL in label", "POST", "/v1/principals/{me}/tokens", {"label": f"a{NUL}"}, 422, "label"),
    ("huge label", "POST", "/v1/principals/{me}/tokens", {"label": "x" * 10_000}, 422, "label"),
    ("token in body", "POST", "/v1/principals/{me}/tokens", {"token": "r247_x"}, 422, "token"),
    (
        "unknown principal",
        "POST",
        "/v1/principals/0b9d1f06-4a57-4b5f-8d5e-1c2b3a4d5e6f/tokens",
        {},
        404,
        "no principal",
    ),
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
    unit = world.unit("FR")
    url = path.replace("{own}", prefix_of(unit)).replace("{me}", str(unit.principal_id))
    async with http(server.http) as client:
        response = await client.request(
            method,
            url,
            content=None if body is None else json.dumps(body),
            headers={**unit.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert says in response.json()["detail"], response.json()
        assert await works(client, unit.token), "nothing was rotated or revoked"


# --- across instances -----------------------------------------------------------------------


@pytest.mark.slow
async def test_revoking_or_disabling_on_one_instance_closes_sockets_on_another(
    world: World, database_url: str
) -> None:
    desk, unit, manager = world.desk("DE"), world.unit("DE"), world("DE", Role.NCB)
    # Sockets are closed within the token check's interval: a short one, not the default 2 s.
    env = environment(DATABASE_URL=database_url, RELAY247_TOKEN_CHECK_INTERVAL="0.25")
    async with serving(free_port(), env) as first, serving(free_port(), env) as second:
        ws_first = first.replace("http", "ws") + "/v1/ws"
        revoked_socket = await Dashboard.open(ws_first, desk)
        disabled_socket = await Dashboard.open(ws_first, unit)
        bystander = await Dashboard.open(ws_first, manager)
        async with http(second) as client:
            revoke = await client.post(
                f"/v1/tokens/{prefix_of(desk)}/revoke", headers=manager.headers
            )
            assert revoke.status_code == 200, revoke.text
            disable = await client.post(
                f"/v1/principals/{unit.principal_id}/disable", headers=manager.headers
            )
            assert disable.status_code == 200, disable.text
        assert await closed_with(revoked_socket, within=8) == 4001
        assert await closed_with(disabled_socket, within=8) == 4001
        await bystander.send({"type": "ping"})
        assert await bystander.receive() == {"type": "pong"}
        await bystander.close()


# --- last use -------------------------------------------------------------------------------


async def last_used(db: asyncpg.Connection, party: Party) -> datetime | None:
    value: datetime | None = await db.fetchval(
        "SELECT last_used_at FROM api_tokens WHERE prefix = $1", prefix_of(party)
    )
    return value


async def written(db: asyncpg.Connection, *parties: Party) -> bool:
    return all([await last_used(db, party) is not None for party in parties])


async def later(db: asyncpg.Connection, party: Party, than: datetime | None) -> bool:
    now = await last_used(db, party)
    return now is not None and than is not None and now > than


@pytest.mark.slow
async def test_last_use_is_written_in_batches_for_rest_and_sockets(
    world: World, database_url: str, db: asyncpg.Connection
) -> None:
    rest, socket, idle = world.unit("FR"), world.desk("DE"), world.unit("JP")
    env = environment(DATABASE_URL=database_url, RELAY247_TOKEN_USAGE_FLUSH_INTERVAL="PT0.3S")
    async with serving(free_port(), env) as base:
        async with http(base) as client:
            assert await works(client, rest.token)
        dashboard = await Dashboard.open(base.replace("http", "ws") + "/v1/ws", socket)
        await eventually(lambda: written(db, rest, socket))
        # An open socket keeps its token in use, flush after flush.
        first = await last_used(db, socket)
        await eventually(lambda: later(db, socket, first))
        await dashboard.close()
        async with http(base) as client:
            loops = (await client.get("/readyz")).json()["loops"]
        assert loops["tokens.usage_flush"]["state"] == "up"
    assert await last_used(db, idle) is None


@pytest.mark.slow
async def test_uses_not_yet_flushed_are_written_at_shutdown(
    world: World, database_url: str, db: asyncpg.Connection
) -> None:
    unit = world.unit("FR")
    env = environment(DATABASE_URL=database_url, RELAY247_TOKEN_USAGE_FLUSH_INTERVAL="PT1H")
    async with serving(free_port(), env) as base:
        async with http(base) as client:
            assert await works(client, unit.token)
        assert await last_used(db, unit) is None, "not on the hot path"
    assert await last_used(db, unit) is not None


async def test_a_flush_skips_a_token_held_by_a_write_and_writes_it_next_time(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    """A write holds its token FOR SHARE (app/identity/auth.py): the flush must not wait for
    it, holding the rows it locked before from their own writes meanwhile."""
    unit = world.unit("FR")
    engine = server.app.state.database.engine
    token_id = await db.fetchval("SELECT id FROM api_tokens WHERE prefix = $1", prefix_of(unit))
    usage = TokenUsage()
    usage.mark(token_id)
    async with db.transaction():
        await db.execute("SELECT 1 FROM api_tokens WHERE id = $1 FOR SHARE", token_id)
        async with asyncio.timeout(5):
            assert await usage.flush(engine) == 0
        assert usage.pending() == 1
    assert await last_used(db, unit) is None
    assert await usage.flush(engine) == 1
    assert await last_used(db, unit) is not None
