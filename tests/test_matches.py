"""Matches between requests' identifiers and shared data: found from either side, told to
the requester (metadata only), shown only to who may see both sides, audited, purged."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from app.core.database import Database
from app.exchange.files.storage import blob_store
from app.matching import sweeper
from app.models.enums import HandlingCode, Role
from app.retention.purge import purge_due
from tests.audit_trail import entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.shared_store import sco, share

IP = "203.0.113.7"


def only(kind: str, value: str) -> list[dict[str, str]]:
    return [{"kind": kind, "value": value}]


async def matches(
    client: httpx.AsyncClient, request_id: str, reader: Party, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/v1/requests/{request_id}/matches", headers=reader.headers, params=params
    )


def shown_ids(page: dict[str, Any]) -> set[str]:
    return {item["stix_id"] for item in page["items"]}


async def test_a_request_naming_an_address_already_shared_matches_it(
    server: RunningServer, world: World, database: Database
) -> None:
    [obj] = [sco("ipv4-addr", IP)]
    [row_id] = await share(database, world.unit("DE"), [obj])
    sender = await Dashboard.open(server.ws, world.unit("FR"))
    try:
        async with http(server.http) as client:
            created = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
            told = await sender.receive_event("request.matched")
            response = await matches(client, created["id"], world.unit("FR"))
    finally:
        await sender.close()

    assert told["data"] == {"request_id": created["id"], "matches": 1}
    assert response.status_code == 200, response.text
    page = response.json()
    [item] = page["items"]
    assert item["kind"] == "ip"
    assert item["value"] == IP
    assert item["object_row_id"] == row_id
    assert item["stix_id"] == obj["id"]
    assert item["type"] == "ipv4-addr"
    assert item["handling_code"] == "GREEN"
    assert item["collection_kind"] == "share"
    assert item["provenance"] == "DE unit"
    assert item["url"] == (f"/taxii2/api/collections/{item['collection_id']}/objects/{obj['id']}/")
    assert page["identifiers"] == [{"kind": "ip", "value": IP, "reports": 1}]
    assert page["total"] == 1
    assert page["next_cursor"] is None


async def test_a_new_share_matches_an_open_request_and_tells_its_sender_without_values(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        created = await submit_request(
            client, world.unit("FR"), identifiers=only("domain", "Evil.Example.COM")
        )
        sender = await Dashboard.open(server.ws, world.unit("FR"))
        try:
            await share(database, world.unit("JP"), [sco("domain-name", "evil.example.com")])
            event = await sender.receive_event("request.matched")
        finally:
            await sender.close()
        page = (await matches(client, created["id"], world.unit("FR"))).json()

    assert event["data"] == {"request_id": created["id"], "matches": 1}
    assert "example.com" not in str(event).lower()
    assert [item["value"] for item in page["items"]] == ["evil.example.com"]


async def test_a_request_and_a_share_committing_together_are_matched_by_the_sweep(
    server: RunningServer, world: World, database: Database
) -> None:
    """The request is submitted while the share's transaction is open (after its matching
    ran): neither sees the other, and the sweep finds the pair once both have committed."""
    created: dict[str, Any] = {}

    async def submit_meanwhile() -> None:
        async with http(server.http) as client:
            created.update(
                await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
            )

    sender = await Dashboard.open(server.ws, world.unit("FR"))
    try:
        await share(
            database, world.unit("DE"), [sco("ipv4-addr", IP)], before_commit=submit_meanwhile
        )
        async with http(server.http) as client:
            assert (await matches(client, created["id"], world.unit("FR"))).json()["total"] == 0

            assert await sweeper.sweep_once(database, within=timedelta(minutes=2)) == 1
            told = await sender.receive_event("request.matched")
            assert told["data"] == {"request_id": created["id"], "matches": 1}
            assert (await matches(client, created["id"], world.unit("FR"))).json()["total"] == 1
            # Swept again: the pair is matched already, nothing new is found or told.
            assert await sweeper.sweep_once(database, within=timedelta(minutes=2)) == 0
    finally:
        await sender.close()


async def test_identifiers_written_differently_match_across_the_two_sides(
    server: RunningServer, world: World, database: Database
) -> None:
    await share(
        database,
        world.unit("DE"),
        [
            sco("ipv6-addr", "2001:0DB8:0000:0000:0000:0000:0000:0001"),
            sco("url", "HTTP://Evil.Example.ORG:80/x"),
        ],
    )
    async with http(server.http) as client:
        created = await submit_request(
            client,
            world.unit("FR"),
            identifiers=[
                {"kind": "ip", "value": "2001:db8::1"},
                {"kind": "url", "value": "http://evil.example.org/x"},
                {"kind": "domain", "value": "unrelated.example.net"},
            ],
        )
        page = (await matches(client, created["id"], world.unit("FR"))).json()

    assert sorted((i["kind"], i["value"]) for i in page["identifiers"]) == [
        ("ip", "2001:db8::1"),
        ("url", "http://evil.example.org/x"),
    ]


async def test_requests_ended_get_no_new_matches(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
        cancelled = await client.post(
            f"/v1/requests/{created['id']}/actions/cancel",
            json={"reason": "Sent to the wrong country"},
            headers=world.unit("FR").headers,
        )
        assert cancelled.status_code == 200, cancelled.text
        await share(database, world.unit("DE"), [sco("ipv4-addr", IP)])
        page = (await matches(client, created["id"], world.unit("FR"))).json()

    assert page["items"] == []
    assert await db.fetchval("SELECT count(*) FROM request_matches") == 0


async def test_a_match_is_shown_only_to_who_may_see_both_sides(
    server: RunningServer, world: World, database: Database
) -> None:
    ip = [sco("ipv4-addr", IP)]
    # JP's to the network (GREEN), to JP and DE only (AMBER), to the network but RED; FR's
    # own to FR only, AMBER+STRICT.
    to_network = await share(database, world.unit("JP"), ip)
    to_de = await share(
        database,
        world.unit("JP"),
        [sco("ipv4-addr", IP)],
        ["JP", "DE"],
        handling=HandlingCode.AMBER,
    )
    red = await share(database, world.unit("JP"), [sco("ipv4-addr", IP)], handling=HandlingCode.RED)
    own_strict = await share(
        database,
        world.unit("FR"),
        [sco("ipv4-addr", IP)],
        ["FR"],
        handling=HandlingCode.AMBER_STRICT,
    )
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), "DE", identifiers=only("ip", IP))
        rid = created["id"]
        seen = {}
        for name, reader in (
            ("sender", world.unit("FR")),
            ("target desk", world.desk("DE")),
            ("gs", world.gs),
        ):
            response = await matches(client, rid, reader)
            assert response.status_code == 200, (name, response.text)
            seen[name] = {item["object_row_id"] for item in response.json()["items"]}
            assert response.json()["total"] == len(seen[name])
        other_desk = await matches(client, rid, world.desk("JP"))
        auditor = await matches(client, rid, world.auditor)

    assert seen["sender"] == {*to_network, *own_strict}
    assert seen["target desk"] == {*to_network, *to_de}
    assert seen["gs"] == {*to_network, *to_de, *red, *own_strict}
    assert other_desk.status_code == 404
    assert auditor.status_code == 403
    assert "application/problem+json" in auditor.headers["content-type"]


async def test_matches_under_a_red_request_follow_its_content(
    server: RunningServer, world: World, database: Database
) -> None:
    """TLP:RED content is the sender's and the holder's: the NCB of the target sees none."""
    await share(database, world.unit("JP"), [sco("ipv4-addr", IP)])
    async with http(server.http) as client:
        created = await submit_request(
            client, world.unit("FR"), identifiers=only("ip", IP), handling_code="RED"
        )
        ncb = await matches(client, created["id"], world("DE", Role.NCB))
        sender = await matches(client, created["id"], world.unit("FR"))

    assert ncb.status_code == 403
    assert len(sender.json()["items"]) == 1


async def test_the_requester_is_told_only_of_matches_it_may_see(
    server: RunningServer, world: World, database: Database
) -> None:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
    sender = await Dashboard.open(server.ws, world.unit("FR"))
    try:
        await share(database, world.unit("JP"), [sco("ipv4-addr", IP)], ["JP"])
        await share(database, world.unit("JP"), [sco("ipv4-addr", IP)], handling=HandlingCode.RED)
        await share(
            database, world.unit("DE"), [sco("ipv4-addr", IP), sco("domain-name", "x.example.org")]
        )
        event = await sender.receive_event("request.matched")
    finally:
        await sender.close()
    # The first event the sender hears is the third share's: the first two were not for it.
    assert event["data"] == {"request_id": created["id"], "matches": 1}


async def test_every_read_is_audited_and_a_read_showing_nothing_is_not(
    server: RunningServer, world: World, database: Database
) -> None:
    row_ids = await share(database, world.unit("DE"), [sco("ipv4-addr", IP)])
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
        quiet = await submit_request(client, world.unit("FR"), identifiers=only("ip", "192.0.2.1"))
        for _ in range(2):
            assert (await matches(client, created["id"], world.unit("FR"))).status_code == 200
        assert (await matches(client, quiet["id"], world.unit("FR"))).json()["items"] == []

    shown = await entries(database, "match.shown")
    assert [entry.object_id for entry in shown] == [created["id"], created["id"]]
    for entry in shown:
        assert entry.details == {"object_row_ids": row_ids, "count": 1}
        assert entry.actor_principal_id == world.unit("FR").principal_id
        assert IP not in str(entry.details)


async def test_pages_follow_the_cursor(
    server: RunningServer, world: World, database: Database
) -> None:
    row_ids = await share(database, world.unit("DE"), [sco("ipv4-addr", IP) for _ in range(3)])
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
        first = (await matches(client, created["id"], world.unit("FR"), limit=2)).json()
        second = (
            await matches(
                client, created["id"], world.unit("FR"), limit=2, cursor=first["next_cursor"]
            )
        ).json()
        other = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
        foreign = await matches(client, other["id"], world.unit("FR"), cursor=first["next_cursor"])

    assert [i["object_row_id"] for i in first["items"] + second["items"]] == row_ids
    assert second["next_cursor"] is None
    assert first["identifiers"] == [{"kind": "ip", "value": IP, "reports": 3}]
    assert foreign.status_code == 422


async def test_the_purge_removes_identifiers_and_matches(
    server: RunningServer, world: World, database: Database, db: asyncpg.Connection
) -> None:
    await share(database, world.unit("DE"), [sco("ipv4-addr", IP)])
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
        kept = await submit_request(client, world.unit("FR"), identifiers=only("ip", IP))
    rid = uuid.UUID(created["id"])
    assert await db.fetchval("SELECT count(*) FROM request_matches WHERE request_id = $1", rid) == 1
    await db.execute(
        "UPDATE requests SET status = 'closed', closed_at = now() - interval '400 days' "
        "WHERE id = $1",
        rid,
    )
    async with database.transaction() as session:
        report = await purge_due(session, blob_store(database), limit=10, dry_run=False)

    assert [purged.request_id for purged in report.requests] == [rid]
    for table in ("request_identifiers", "request_matches"):
        left = await db.fetch(f"SELECT request_id FROM {table}")  # noqa: S608 (fixed names)
        assert {row["request_id"] for row in left} == {uuid.UUID(kept["id"])}
