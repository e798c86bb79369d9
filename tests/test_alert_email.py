"""E-mail alerts end to end, with a real SMTP server (aiosmtpd, STARTTLS with a certificate
of the test's own CA, AUTH): an address added over REST gets a test message with a code and
is alerted only once the code is confirmed; an arrival then reaches it as a mail of metadata
and links, whose acknowledge link works; the server's 5xx ends a message, its 4xx is tried
again (time driven by the test). Without an SMTP server configured, mail waits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.core.settings import Settings
from tests.audit_trail import entries
from tests.clients import http, submit_request
from tests.conftest import RunningServer, changed, running_server
from tests.factories import Party, World, request_body
from tests.smtp_server import SmtpServer, smtp_server
from tests.test_web_sessions import FORM
from tests.waiting import beats, eventually

ADDRESS = "duty.de@police.example"
CODE = re.compile(r"code: ([A-Z2-7]{4}-[A-Z2-7]{4})")
LINK = re.compile(r"https://relay247\.example(/ack/[A-Za-z0-9_-]+)")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return changed(settings, outbox={**smtp.settings(), "public_url": "https://relay247.example"})


async def mails_to(smtp: SmtpServer, address: str, count: int = 1) -> list[EmailMessage]:
    async def arrived() -> bool:
        return len(smtp.mailbox.to(address)) >= count

    await eventually(arrived, within=15)
    return smtp.mailbox.to(address)


def body_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def add_address(client: httpx.AsyncClient, party: Party, address: str = ADDRESS) -> str:
    made = await client.post(
        "/v1/me/contact-methods",
        json={"kind": "email", "address": address, "label": "duty mailbox"},
        headers=party.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["verified"] is False
    return str(made.json()["id"])


async def verified_address(
    client: httpx.AsyncClient, smtp: SmtpServer, party: Party, address: str = ADDRESS
) -> str:
    method_id = await add_address(client, party, address)
    (test,) = await mails_to(smtp, address)
    code = CODE.search(str(test["Subject"]))
    assert code is not None
    done = await client.post(
        f"/v1/me/contact-methods/{method_id}/verify",
        json={"code": code.group(1)},
        headers=party.headers,
    )
    assert done.status_code == 200, done.text
    return method_id


async def test_an_address_is_alerted_only_once_its_test_code_is_confirmed(
    server: RunningServer, world: World, smtp: SmtpServer, database: Database
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        method_id = await add_address(client, desk)
        (test,) = await mails_to(smtp, ADDRESS)
        found = CODE.search(str(test["Subject"]))
        assert found is not None
        code = found.group(1)
        assert code in body_of(test)
        # Not verified yet: an arrival alerts nobody by e-mail.
        await submit_request(client, world.unit("FR"))
        wrong = await client.post(
            f"/v1/me/contact-methods/{method_id}/verify",
            json={"code": "AAAA-AAAA" if code != "AAAA-AAAA" else "BBBB-BBBB"},
            headers=desk.headers,
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["errors"][0]["field"] == "code"
        # Case and dashes do not matter.
        done = await client.post(
            f"/v1/me/contact-methods/{method_id}/verify",
            json={"code": code.replace("-", "").lower()},
            headers=desk.headers,
        )
        assert done.status_code == 200, done.text
        assert done.json()["verified"] is True
        listed = await client.get("/v1/me/contact-methods", headers=desk.headers)
        assert [(m["id"], m["verified"]) for m in listed.json()["items"]] == [(method_id, True)]
        # The code is stored nowhere.
    assert len(smtp.mailbox.to(ADDRESS)) == 1
    assert [e.action for e in await entries(database, object_id=method_id)] == [
        "contact_method.created",
        "contact_method.verified",
    ]


async def test_an_arrival_mails_metadata_and_links_and_the_link_acknowledges(
    server: RunningServer, world: World, smtp: SmtpServer, db: asyncpg.Connection
) -> None:
    desk = world.desk("DE")
    async with http(server.http) as client:
        await verified_address(client, smtp, desk)
        request_id = (await submit_request(client, world.unit("FR")))["id"]
        _, alert = await mails_to(smtp, ADDRESS, 2)
        message_id = await db.fetchval(
            "SELECT id FROM outbox_messages WHERE request_id = $1 AND route = 'email'",
            uuid.UUID(request_id),
        )
        assert alert["Message-ID"] == f"<{message_id}@relay247.example>"
        assert alert["From"] == "alerts@relay247.example"
        assert alert["Auto-Submitted"] == "auto-generated"
        subject = str(alert["Subject"])
        assert "URGENT preservation FR to DE" in subject
        text = body_of(alert)
        assert f"https://relay247.example/web/requests/{request_id}" in text
        assert "TLP:AMBER" in text
        # Metadata only: nothing of the request's content.
        for field, value in request_body().items():
            if field in {"subject", "details", "legal_basis"}:
                assert str(value) not in text + subject
        assert "negotiator@example.org" not in text
        # Sent over STARTTLS, from the configured sender.
        assert smtp.mailbox.envelopes[-1] == ("alerts@relay247.example", [ADDRESS], True)
        found = LINK.search(text)
        assert found is not None
        path = found.group(1)
        acked = await client.post(path, headers={**FORM, "Origin": server.http})
        assert acked.status_code == 200, acked.text
    assert (
        await db.fetchval(
            "SELECT acknowledged_by FROM requests WHERE id = $1", uuid.UUID(request_id)
        )
        == desk.principal_id
    )
    assert (
        await db.fetchval("SELECT status FROM outbox_messages WHERE id = $1", message_id) == "sent"
    )


async def _message_for(db: asyncpg.Connection, address: str) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT m.id, m.status, m.attempts FROM outbox_messages m "
        "JOIN contact_methods c ON c.id = m.destination_id WHERE c.address = $1",
        address,
    )


async def test_a_permanent_refusal_ends_a_mail_and_a_temporary_one_is_tried_again(
    server: RunningServer, world: World, smtp: SmtpServer, db: asyncpg.Connection
) -> None:
    gone, later = "gone@police.example", "later@police.example"
    smtp.mailbox.answers[gone] = "550 5.1.1 No such mailbox"
    smtp.mailbox.answers[later] = "451 4.3.0 Try again later"
    async with http(server.http) as client:
        await add_address(client, world.desk("DE"), gone)
        await add_address(client, world.desk("DE"), later)

        async def settled() -> bool:
            first, second = await _message_for(db, gone), await _message_for(db, later)
            return (
                first["status"] == "failed"
                and second["attempts"] == 1
                and (
                    await db.fetchval(
                        "SELECT count(*) FROM outbox_attempts WHERE message_id = $1", second["id"]
                    )
                    == 1
                )
            )

        await eventually(settled, within=15)
        failed = await db.fetchrow(
            "SELECT outcome, status_code, response FROM outbox_attempts a "
            "JOIN outbox_messages m ON m.id = a.message_id "
            "JOIN contact_methods c ON c.id = m.destination_id WHERE c.address = $1",
            gone,
        )
        assert (failed["outcome"], failed["status_code"]) == ("rejected", 550)
        assert "No such mailbox" in failed["response"]
        assert (await _message_for(db, later))["status"] == "pending"
        # The server takes it now; the test brings the retry due.
        del smtp.mailbox.answers[later]
        await db.execute(
            "UPDATE outbox_messages SET due_at = now() WHERE id = $1",
            (await _message_for(db, later))["id"],
        )
        await mails_to(smtp, later)

        async def sent() -> bool:
            return (await _message_for(db, later))["status"] == "sent"

        await eventually(sent)
    assert (await _message_for(db, later))["attempts"] == 2


async def test_without_an_smtp_server_mail_waits_in_the_outbox(
    database_url: str, world: World, db: asyncpg.Connection
) -> None:
    settings = Settings.from_environment()
    async with running_server(database_url, settings) as server, http(server.http) as client:
        await add_address(client, world.desk("DE"))
        await beats(server.app, "outbox.sender", 3)
        row = await _message_for(db, ADDRESS)
        assert (row["status"], row["attempts"]) == ("pending", 0)

        async def shown_queued() -> bool:
            ready = (await client.get("/readyz")).json()
            return bool(ready["outbox"]["queued"].get("email") == 1)

        await eventually(shown_queued)
