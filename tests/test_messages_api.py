"""A request's thread: both sides write, read in order, see only what their TLP code allows,
and every post and every read of a text leaves an audit entry with its hash, never the text."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database import Database
from app.directory import agencies
from app.models.enums import AgencyKind, Role
from tests.audit_trail import entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World, make_party


def messages_of(request_id: str) -> str:
    return f"/v1/requests/{request_id}/messages"


async def post(
    client: httpx.AsyncClient, party: Party, request_id: str, text: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        messages_of(request_id), json={"text": text, **fields}, headers=party.headers
    )


async def posted(
    client: httpx.AsyncClient, party: Party, request_id: str, text: str, **fields: Any
) -> dict[str, Any]:
    response = await post(client, party, request_id, text, **fields)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


async def whole_thread(
    client: httpx.AsyncClient, party: Party, request_id: str, limit: int = 50
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(messages_of(request_id), params=params, headers=party.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_both_sides_write_and_read_the_thread_in_order(
    server: RunningServer, world: World
) -> None:
    sender, desk = world.unit("FR"), world.desk("DE")
    async with http(server.http) as client:
        request = await submit_request(client, sender)
        question = await post(client, desk, request["id"], "Which time zone is 20 Nov in?")
        answer = await posted(client, sender, request["id"], "UTC, from 08:00 to 09:30.")
        thread = await whole_thread(client, desk, request["id"])
        # The location names the one-message page that holds the posted message.
        located = await client.get(question.headers["location"], headers=sender.headers)
        request_after = (
            await client.get(f"/v1/requests/{request['id']}", headers=sender.headers)
        ).json()

    assert question.status_code == 201
    first = question.json()
    assert (first["seq"], first["side"], answer["seq"], answer["side"]) == (
        1,
        "target",
        2,
        "requester",
    )
    assert first["author_principal_id"] == str(desk.principal_id)
    assert first["author_agency_id"] == str(desk.agency_id)
    # Its handling defaults to the request's.
    assert (first["handling_code"], first["onward_use"]) == ("AMBER", ["H2"])
    assert first["text_hash"] == hashlib.sha256(b"Which time zone is 20 Nov in?").hexdigest()
    assert first["withheld"] is None
    # Each author as the reader may know them: the desk reads its own officer's name, and the
    # sender by role and agency only (its people are not the desk's to see).
    assert [m["author"]["name"] for m in thread] == ["DE contact_point", None]
    assert thread[1]["author"]["agency_name"] == "FR unit"
    assert [{**m, "author": None} for m in thread] == [
        {**first, "author": None},
        {**answer, "author": None},
    ]
    assert located.json()["items"] == [{**first, "author": located.json()["items"][0]["author"]}]
    # A message is no change of the request.
    assert request_after["version"] == request["version"]


async def test_sixty_messages_page_in_seq_order_without_gaps_or_repeats(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        for n in range(60):
            party = world.unit("FR") if n % 2 else world.desk("DE")
            await posted(client, party, request["id"], f"message {n}")
        pages: list[list[int]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 25, **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get(
                    messages_of(request["id"]), params=params, headers=world.gs.headers
                )
            ).json()
            pages.append([message["seq"] for message in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        texts = [m["text"] for m in await whole_thread(client, world.gs, request["id"], 25)]
    assert [len(page) for page in pages] == [25, 25, 10]
    assert [seq for page in pages for seq in page] == list(range(1, 61))
    assert texts == [f"message {n}" for n in range(60)]


async def test_concurrent_posters_get_gap_free_seq(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        answers = await asyncio.gather(
            *(
                post(client, world.unit("FR") if n % 2 else world.desk("DE"), request["id"], f"{n}")
                for n in range(30)
            )
        )
        thread = await whole_thread(client, world.gs, request["id"])
    assert [answer.status_code for answer in answers] == [201] * 30
    assert sorted(answer.json()["seq"] for answer in answers) == list(range(1, 31))
    assert [message["seq"] for message in thread] == list(range(1, 31))
    assert sorted(message["text"] for message in thread) == sorted(str(n) for n in range(30))


async def test_the_other_side_is_told_with_metadata_and_no_text(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        requester = await Dashboard.open(server.ws, world.unit("FR"))
        desk = await Dashboard.open(server.ws, world.desk("DE"))
        sent = await posted(
            client,
            world.desk("DE"),
            request["id"],
            "The mailbox is preserved under reference DE-4471.",
            source_reliability="B",
            information_accuracy=2,
        )
        reply = await posted(client, world.unit("FR"), request["id"], "Thank you.")

    pushed = await requester.receive_event("message.posted")
    assert pushed["data"] == {
        "request_id": request["id"],
        "message_id": sent["id"],
        "seq": 1,
        "side": "target",
        "author_principal_id": str(world.desk("DE").principal_id),
        "author_agency_id": str(world.desk("DE").agency_id),
        "handling_code": "AMBER",
        "onward_use": ["H2"],
        "created_at": pushed["data"]["created_at"],
        "source_reliability": "B",
        "information_accuracy": 2,
    }
    assert "DE-4471" not in str(pushed), "pushes carry metadata, never the text"
    # The desk hears its own message and the reply, on its desk channel.
    assert (await desk.receive_event("message.posted"))["data"]["message_id"] == sent["id"]
    heard = await desk.receive_event("message.posted")
    assert heard["data"]["message_id"] == reply["id"]
    assert heard["data"]["side"] == "requester"
    assert "Thank you" not in str(heard)
    await requester.receive_event("message.posted")  # its own reply, on its agency channel
    for dashboard in (requester, desk):
        await dashboard.assert_silent()
        await dashboard.close()


async def test_posting_and_reading_are_audited_with_hashes_and_no_text(
    server: RunningServer, world: World, database: Database
) -> None:
    secret = "The suspect's handle is n3gotiator."
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        message = await posted(client, world.desk("DE"), request["id"], secret)
        await posted(client, world.desk("DE"), request["id"], "second", handling_code="RED")
        await whole_thread(client, world.unit("FR"), request["id"])
        await whole_thread(client, world.auditor, request["id"])

    written = await entries(database, "message.posted")
    assert len(written) == 2
    first = written[0]
    assert first.object_id == message["id"]
    assert first.object_type == "message"
    assert first.actor_principal_id == world.desk("DE").principal_id
    assert first.content_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert dict(first.details) == {"request_id": request["id"], "seq": 1, "handling_code": "AMBER"}

    reads = await entries(database, "message.read")
    # The sender read both (RED reaches the sender's agency); the auditor read nothing.
    assert {(entry.actor_principal_id, entry.object_type) for entry in reads} == {
        (world.unit("FR").principal_id, "message")
    }
    assert len(reads) == 2
    assert reads[0].object_id == message["id"]
    assert reads[0].content_hash == message["text_hash"]
    everything = " ".join(
        f"{e.details} {e.content_hash}" for e in await entries(database) if e.object_type
    )
    assert "n3gotiator" not in everything


async def test_red_message_in_amber_request_reaches_the_two_agencies_and_the_global_desk(
    server: RunningServer, world: World, database: Database
) -> None:
    # A contact point of the DE desk in another agency than the one holding the request.
    async with database.transaction() as session:
        bka = await agencies.create_agency(
            session, country="DE", kind=AgencyKind.UNIT, name="DE second unit"
        )
    colleague = await make_party(
        database, agency_id=bka.id, country="DE", role=Role.CONTACT_POINT, name="DE colleague"
    )
    holder = world.desk("DE")
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        taken = await client.post(
            f"/v1/requests/{request['id']}/assign",
            json={"principal_id": str(holder.principal_id)},
            headers=world.gs.headers,
        )
        assert taken.status_code == 200, taken.text
        await posted(client, world.unit("FR"), request["id"], "red words", handling_code="RED")
        await posted(client, world.unit("FR"), request["id"], "amber words")
        threads = {
            who: await whole_thread(client, party, request["id"])
            for who, party in {
                "sender": world.unit("FR"),
                "holder": holder,
                "gs": world.gs,
                "ncb": world("DE", Role.NCB),
                "colleague": colleague,
                "auditor": world.auditor,
            }.items()
        }
    shown = {who: [m["text"] for m in thread] for who, thread in threads.items()}
    withheld = {who: [m["withheld"] for m in thread] for who, thread in threads.items()}
    for who in ("sender", "holder", "gs"):
        assert shown[who] == ["red words", "amber words"], who
        assert withheld[who] == [None, None], who
    for who in ("ncb", "colleague"):
        assert shown[who] == [None, "amber words"], who
        assert withheld[who] == ["handling_code", None], who
        assert threads[who][0]["handling_code"] == "RED"
    # The auditor reads no text at all.
    assert shown["auditor"] == [None, None]
    assert withheld["auditor"] == ["handling_code", "handling_code"]


async def test_red_message_in_a_request_nobody_holds_is_withheld_from_the_desk(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        assert request["assigned_to"] is None
        await posted(client, world.unit("FR"), request["id"], "red words", handling_code="RED")
        desk = await whole_thread(client, world.desk("DE"), request["id"])
        gs = await whole_thread(client, world.gs, request["id"])
    assert (desk[0]["text"], desk[0]["withheld"]) == (None, "handling_code")
    assert gs[0]["text"] == "red words"


async def test_amber_strict_message_is_withheld_from_the_ncb(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        await posted(
            client, world.unit("FR"), request["id"], "strict", handling_code="AMBER+STRICT"
        )
        ncb = await whole_thread(client, world("DE", Role.NCB), request["id"])
        desk = await whole_thread(client, world.desk("DE"), request["id"])
    assert (ncb[0]["text"], ncb[0]["withheld"]) == (None, "handling_code")
    assert desk[0]["text"] == "strict"


async def test_a_purged_message_is_withheld_as_purged(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        message = await posted(client, world.unit("FR"), request["id"], "soon gone")
        # What the purge does to a message (another module's job): the text goes, the hash stays.
        await db.execute(
            "UPDATE messages SET text = NULL, purged_at = now() WHERE id = $1",
            uuid.UUID(message["id"]),
        )
        thread = await whole_thread(client, world.unit("FR"), request["id"])
    assert (thread[0]["text"], thread[0]["withheld"]) == (None, "purged")
    assert thread[0]["text_hash"] == message["text_hash"]


async def test_evaluation_codes_are_stored_and_returned(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        for reliability, accuracy in (("A", 1), ("B", 2), ("C", 3), ("X", 4)):
            await posted(
                client,
                world.desk("DE"),
                request["id"],
                f"{reliability}{accuracy}",
                source_reliability=reliability,
                information_accuracy=accuracy,
            )
        await posted(client, world.desk("DE"), request["id"], "ungraded")
        thread = await whole_thread(client, world.unit("FR"), request["id"])
    assert [(m["source_reliability"], m["information_accuracy"]) for m in thread] == [
        ("A", 1),
        ("B", 2),
        ("C", 3),
        ("X", 4),
        (None, None),
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source_reliability": "D"}, "source_reliability"),
        ({"source_reliability": "a"}, "source_reliability"),
        ({"information_accuracy": 5}, "information_accuracy"),
        ({"information_accuracy": 0}, "information_accuracy"),
        ({"information_accuracy": "1"}, "information_accuracy"),
        ({"information_accuracy": 1.5}, "information_accuracy"),
        ({"information_accuracy": True}, "information_accuracy"),
        ({"text": "nul \x00 byte"}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "body"),
        ({"subject": "not a message field"}, "subject"),
        ({"handling_code": "PURPLE"}, "handling_code"),
        ({"onward_use": ["H2", "H2"]}, "body"),
        ({"onward_use": ["H9"]}, "onward_use[0]"),
        ({"handling_note": "x" * 501, "onward_use": ["H2", "H3"]}, "handling_note"),
    ],
)
async def test_bad_fields_are_refused_and_nothing_is_written(
    server: RunningServer,
    world: World,
    db: asyncpg.Connection,
    fields: dict[str, Any],
    field: str,
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        response = await client.post(
            messages_of(request["id"]),
            json={"text": "a message", **fields},
            headers=world.desk("DE").headers,
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}, response.json()
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


async def test_the_longest_text_is_taken(server: RunningServer, world: World) -> None:
    text = "é" * 20_000
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        message = await posted(client, world.unit("FR"), request["id"], text)
    assert message["text"] == text
    assert message["text_hash"] == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("request_handling", "fields", "field"),
    [
        ({"handling_code": "AMBER"}, {"handling_code": "GREEN"}, "handling_code"),
        ({"handling_code": "RED"}, {"handling_code": "AMBER+STRICT"}, "handling_code"),
        ({"onward_use": ["H1", "H2"]}, {"onward_use": ["H2"]}, "onward_use"),
        ({"onward_use": []}, {"onward_use": ["H3"]}, "handling_note"),
    ],
)
async def test_a_message_may_not_be_looser_than_its_request(
    server: RunningServer,
    world: World,
    request_handling: dict[str, Any],
    fields: dict[str, Any],
    field: str,
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"), **request_handling)
        response = await post(client, world.unit("FR"), request["id"], "text", **fields)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["detail"].startswith(field)


async def test_stricter_handling_and_the_requests_h3_statement_are_kept(
    server: RunningServer, world: World
) -> None:
    note = "Not to be shared with the service provider."
    async with http(server.http) as client:
        request = await submit_request(
            client, world.unit("FR"), onward_use=["H3"], handling_note=note
        )
        inherited = await posted(client, world.unit("FR"), request["id"], "same handling")
        stricter = await posted(
            client,
            world.desk("DE"),
            request["id"],
            "stricter",
            handling_code="RED",
            onward_use=["H1", "H3"],
            handling_note="Court use only with our written consent.",
        )
    assert (inherited["onward_use"], inherited["handling_note"]) == (["H3"], note)
    assert (stricter["handling_code"], stricter["onward_use"]) == ("RED", ["H1", "H3"])
    assert stricter["handling_note"] == "Court use only with our written consent."


@pytest.mark.parametrize("status", ["closed", "declined", "cancelled"])
async def test_a_final_request_takes_no_more_messages(
    server: RunningServer, world: World, db: asyncpg.Connection, status: str
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        await db.execute(
            "UPDATE requests SET status = $1, closed_at = now() WHERE id = $2",
            status,
            uuid.UUID(request["id"]),
        )
        response = await post(client, world.unit("FR"), request["id"], "too late")
    assert response.status_code == 409, response.text
    assert status in response.json()["detail"]
    assert response.json()["current_status"] == status
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


async def test_a_purged_request_takes_no_more_messages(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        await db.execute(
            "UPDATE requests SET purged_at = now() WHERE id = $1", uuid.UUID(request["id"])
        )
        response = await post(client, world.desk("DE"), request["id"], "too late")
    assert response.status_code == 409, response.text
    assert "purged" in response.json()["detail"]


async def test_who_may_not_write_or_read(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        audited = await post(client, world.auditor, request["id"], "I am watching")
        sending_ncb = await post(client, world("FR", Role.NCB), request["id"], "hello")
        other_desk = await post(client, world.desk("JP"), request["id"], "hello")
        other_desk_reads = await client.get(
            messages_of(request["id"]), headers=world.desk("JP").headers
        )
        unknown = await post(client, world.unit("FR"), str(uuid.uuid4()), "hello")
    assert audited.status_code == 403
    assert "auditor" in audited.json()["detail"]
    # The sending country's NCB follows the request, but is neither of its sides.
    assert sending_ncb.status_code == 403
    assert other_desk.status_code == other_desk_reads.status_code == unknown.status_code == 404


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "eyJyIjogMX0",  # {"r": 1}
        "eyJzIjogLTF9",  # {"s": -1}
        "x" * 512,
    ],
)
async def test_a_forged_cursor_is_refused(server: RunningServer, world: World, cursor: str) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        response = await client.get(
            messages_of(request["id"]),
            params={"cursor": cursor},
            headers=world.unit("FR").headers,
        )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_a_cursor_of_another_thread_or_out_of_range_is_refused(
    server: RunningServer, world: World
) -> None:
    def forged(payload: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    async with http(server.http) as client:
        first = await submit_request(client, world.unit("FR"))
        second = await submit_request(client, world.unit("FR"))
        for n in range(3):
            await posted(client, world.unit("FR"), first["id"], f"{n}")
        page = (
            await client.get(
                messages_of(first["id"]), params={"limit": 1}, headers=world.unit("FR").headers
            )
        ).json()
        elsewhere = await client.get(
            messages_of(second["id"]),
            params={"cursor": page["next_cursor"]},
            headers=world.unit("FR").headers,
        )
        huge = await client.get(
            messages_of(first["id"]),
            params={"cursor": forged({"r": first["id"], "p": 2**40})},
            headers=world.unit("FR").headers,
        )
    assert elsewhere.status_code == 422
    assert "another request" in elsewhere.json()["detail"]
    assert huge.status_code == 422


async def test_explicit_nulls_are_the_defaults(server: RunningServer, world: World) -> None:
    nulls = dict.fromkeys(
        (
            "handling_code",
            "onward_use",
            "handling_note",
            "source_reliability",
            "information_accuracy",
        )
    )
    async with http(server.http) as client:
        # An optional text sent as null once failed as a 500, in requests as in messages.
        request = await submit_request(client, world.unit("FR"), handling_note=None)
        message = await posted(client, world.unit("FR"), request["id"], "nulls", **nulls)
    assert (message["handling_code"], message["onward_use"]) == ("AMBER", ["H2"])
    assert message["handling_note"] is None


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ('{"text": "\\ud800"}', "application/json"),  # a lone surrogate: no character
        ('{"text": "hello"}', "text/plain"),
        ('[{"text": "hello"}]', "application/json"),
        ("null", "application/json"),
        ('{"text": "hello"', "application/json"),
        ('{"text": 42}', "application/json"),
    ],
)
async def test_malformed_bodies_are_refused(
    server: RunningServer, world: World, db: asyncpg.Connection, content: str, content_type: str
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        response = await client.post(
            messages_of(request["id"]),
            content=content,
            headers={**world.unit("FR").headers, "Content-Type": content_type},
        )
    assert response.status_code in (415, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await db.fetchval("SELECT count(*) FROM messages") == 0
