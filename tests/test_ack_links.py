"""An alert's one-time acknowledge link, over real HTTP: the page a GET opens changes
nothing, its form acknowledges as the person the alert went to (one transaction with the
link's row and the audit entry), and a link reused, expired, or opened in another person's
session is refused and audited. The JSON form (the push's Acknowledge action) answers the
same with problem statuses. The sender is off: the alert stays in the outbox, as written."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import httpx
import pytest

from app.alerts import ack_links
from app.core.database import Database
from app.core.observability.redaction import redact
from app.core.service_secret import ServiceSecret
from app.core.settings import Settings
from app.models.enums import Role
from tests.audit_trail import details, entries
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed
from tests.factories import Party, World
from tests.test_alert_fanout import reachable
from tests.test_web_sessions import FORM, session_of, with_cookie


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return changed(settings, outbox={"outbox_sender": False})


def link_token(settings: Settings, message_id: uuid.UUID) -> str:
    secret = ServiceSecret(settings.outbox.secret_key_path(settings.database))
    return ack_links.token(secret, message_id)


async def alerted(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, settings: Settings
) -> tuple[str, str, Party]:
    """A request from FR to DE whose arrival alerted DE's desk by e-mail: its id, and the
    token of the link that alert carries."""
    desk = world.desk("DE")
    await reachable(db, desk)
    request_id = (await submit_request(client, world.unit("FR")))["id"]
    message_id = await db.fetchval(
        "SELECT id FROM outbox_messages WHERE request_id = $1 AND route = 'email'",
        uuid.UUID(request_id),
    )
    return request_id, link_token(settings, message_id), desk


async def acknowledged_by(db: asyncpg.Connection, request_id: str) -> uuid.UUID | None:
    by: uuid.UUID | None = await db.fetchval(
        "SELECT acknowledged_by FROM requests WHERE id = $1", uuid.UUID(request_id)
    )
    return by


def post_form(client: httpx.AsyncClient, token: str, server: RunningServer, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(f"/ack/{token}", headers={**FORM, "Origin": server.http, **headers})


async def test_the_link_opens_a_page_that_changes_nothing_and_its_form_acknowledges(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    database: Database,
    settings: Settings,
) -> None:
    async with http(server.http) as client:
        request_id, token, desk = await alerted(client, db, world, settings)
        page = await client.get(f"/ack/{token}")
        assert page.status_code == 200, page.text
        assert 'id="ack-form"' in page.text
        assert request_id in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        # Nothing runs on it but the theme (a classic script of our own that only sets
        # html[data-theme] before the first paint): its form posts without any script.
        assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/web/static/js/theme.js">']
        assert page.headers["cache-control"] == "no-store"
        assert await acknowledged_by(db, request_id) is None
        assert await db.fetchval("SELECT count(*) FROM ack_links") == 0

        done = await post_form(client, token, server)
        assert done.status_code == 200, done.text
        assert 'id="ack-result"' in done.text
        assert "Acknowledged." in done.text
    assert await acknowledged_by(db, request_id) == desk.principal_id
    row = await db.fetchrow("SELECT request_id, principal_id, used_at FROM ack_links")
    assert (str(row["request_id"]), row["principal_id"]) == (request_id, desk.principal_id)
    (used,) = await entries(database, ack_links.USED, object_id=request_id)
    assert used.actor_principal_id == desk.principal_id
    assert details(used)["already_acknowledged"] is False
    # The acknowledgement itself is the requests service's, with its history row.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM request_transitions WHERE request_id = $1 "
            "AND action = 'acknowledge'",
            uuid.UUID(request_id),
        )
        == 1
    )
    # Its alerts stopped: nothing left pending.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE request_id = $1 AND status = 'pending' "
            "AND route = 'email'",
            uuid.UUID(request_id),
        )
        == 0
    )


async def test_a_link_works_once_and_a_reuse_is_refused_and_audited(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    database: Database,
    settings: Settings,
) -> None:
    async with http(server.http) as client:
        request_id, token, desk = await alerted(client, db, world, settings)
        first = await client.post(f"/v1/ack-links/{token}")
        assert first.status_code == 200, first.text
        assert first.json()["acknowledged_by"] == str(desk.principal_id)
        again = await client.post(f"/v1/ack-links/{token}")
        assert again.status_code == 409, again.text
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["reason"] == "used"
        page = await post_form(client, token, server)
        assert page.status_code == 409
        assert "used already" in page.text
        # The page a GET opens says so, and audits nothing (a preview is no attempt).
        shown = await client.get(f"/ack/{token}")
        assert shown.status_code == 409
        assert 'id="ack-form"' not in shown.text
    refused = await entries(database, ack_links.REFUSED, object_id=request_id)
    assert [details(e)["reason"] for e in refused] == ["used", "used"]
    assert {e.actor_principal_id for e in refused} == {desk.principal_id}
    assert await db.fetchval("SELECT count(*) FROM ack_links") == 1


async def test_an_expired_link_is_refused_and_audited(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    database: Database,
    settings: Settings,
) -> None:
    async with http(server.http) as client:
        request_id, token, _ = await alerted(client, db, world, settings)
        await db.execute(
            "UPDATE outbox_messages SET created_at = now() - $1::interval WHERE request_id = $2",
            settings.outbox.ack_link_lifetime,
            uuid.UUID(request_id),
        )
        answer = await client.post(f"/v1/ack-links/{token}")
        assert answer.status_code == 410, answer.text
        assert answer.json()["reason"] == "expired"
        page = await client.get(f"/ack/{token}")
        assert page.status_code == 410
        assert "expired" in page.text
    assert await acknowledged_by(db, request_id) is None
    (refused,) = await entries(database, ack_links.REFUSED, object_id=request_id)
    assert details(refused)["reason"] == "expired"


async def test_a_link_opened_in_another_persons_session_is_refused_and_audited(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    database: Database,
    settings: Settings,
) -> None:
    async with http(server.http) as client:
        request_id, token, desk = await alerted(client, db, world, settings)
        other = world("DE", Role.NCB)
        cookie = await session_of(client, other)
        page = await client.get(f"/ack/{token}", headers=with_cookie(cookie))
        assert page.status_code == 403
        assert 'id="ack-form"' not in page.text
        answer = await post_form(client, token, server, **with_cookie(cookie))
        assert answer.status_code == 403, answer.text
        json = await client.post(f"/v1/ack-links/{token}", headers=with_cookie(cookie))
        assert json.status_code == 403
        assert json.json()["reason"] == "other_person"
        # Its own person's session is no obstacle.
        own = await session_of(client, desk)
        mine = await client.post(f"/v1/ack-links/{token}", headers=with_cookie(own))
        assert mine.status_code == 200, mine.text
    refused = await entries(database, ack_links.REFUSED, object_id=request_id)
    assert [(e.actor_principal_id, details(e)["reason"]) for e in refused] == [
        (other.principal_id, "other_person")
    ] * 2
    assert all(details(e)["sent_to"] == str(desk.principal_id) for e in refused)


async def test_an_already_acknowledged_request_is_said_so_plainly(
    server: RunningServer, world: World, db: asyncpg.Connection, settings: Settings
) -> None:
    async with http(server.http) as client:
        request_id, token, _ = await alerted(client, db, world, settings)
        ncb = world("DE", Role.NCB)
        acked = await client.post(f"/v1/requests/{request_id}/ack", headers=ncb.headers)
        assert acked.status_code == 200, acked.text
        page = await client.get(f"/ack/{token}")
        assert page.status_code == 200
        assert "already been acknowledged" in page.text
        assert 'id="ack-form"' not in page.text
        done = await post_form(client, token, server)
        assert done.status_code == 200
        assert "already been acknowledged" in done.text
    assert await acknowledged_by(db, request_id) == ncb.principal_id


@pytest.mark.parametrize(
    "token",
    ["x", "A" * 43, "A" * 42 + "\u00e9", "%00" * 20, "A" * 199, "A" * 500],
)
async def test_a_token_that_names_no_alert_is_not_found(
    server: RunningServer, world: World, token: str
) -> None:
    async with http(server.http) as client:
        answer = await client.post(f"/v1/ack-links/{token}")
        assert answer.status_code in (404, 422), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        page = await client.get(f"/ack/{token}")
        assert page.status_code == 404, page.text


async def test_a_forged_mac_is_not_found(
    server: RunningServer, world: World, db: asyncpg.Connection, settings: Settings
) -> None:
    async with http(server.http) as client:
        _, token, _ = await alerted(client, db, world, settings)
        forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
        answer = await client.post(f"/v1/ack-links/{forged}")
        assert answer.status_code == 404, answer.text
    assert await db.fetchval("SELECT count(*) FROM ack_links") == 0


async def test_two_uses_at_once_acknowledge_once(
    server: RunningServer, world: World, db: asyncpg.Connection, settings: Settings
) -> None:
    async with http(server.http) as client:
        _, token, _ = await alerted(client, db, world, settings)
        answers = await asyncio.gather(*(client.post(f"/v1/ack-links/{token}") for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    assert await db.fetchval("SELECT count(*) FROM ack_links") == 1


async def test_a_disabled_persons_link_does_not_work(
    server: RunningServer, world: World, db: asyncpg.Connection, settings: Settings
) -> None:
    async with http(server.http) as client:
        request_id, token, desk = await alerted(client, db, world, settings)
        disabled = await client.post(
            f"/v1/principals/{desk.principal_id}/disable", headers=world("DE", Role.NCB).headers
        )
        assert disabled.status_code == 200, disabled.text
        answer = await client.post(f"/v1/ack-links/{token}")
        assert answer.status_code == 404, answer.text
    assert await acknowledged_by(db, request_id) is None


def test_the_token_is_kept_out_of_the_log() -> None:
    token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
    line = f'127.0.0.1:5000 - "GET /ack/{token} HTTP/1.1" 200'
    assert token not in redact(line)
    assert token not in redact(f'"POST /v1/ack-links/{token} HTTP/1.1" 409')


async def test_an_alerts_path_opens_the_requests_page(server: RunningServer) -> None:
    request_id = uuid.uuid4()
    async with http(server.http) as client:
        answer = await client.get(f"/requests/{request_id}")
    assert answer.status_code == 307
    assert answer.headers["location"] == f"/web/requests/{request_id}"
