"""The TAXII 2.1 server driven by a real TAXII client, taxii2-client (sync: in a thread),
against the real server: discovery, API root, collections, add objects with status polling,
paging with `next`, added_after, manifests, versions and the match filters."""

from __future__ import annotations

import asyncio
from typing import Any

import requests
from taxii2client.v21 import Collection, Server, as_pages

from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.taxii_support import GATEWAY, envelope, indicator, make_share


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _collection(server: RunningServer, party: Party, collection_id: str) -> Collection:
    url = f"{server.http}/taxii2/api/collections/{collection_id}/"
    return Collection(url, auth=Bearer(party.token))


async def test_discovery_api_root_and_collections_as_a_taxii_client_reads_them(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        share = await make_share(client, world.unit("FR"), ["DE"])

    def read(party: Party) -> tuple[dict[str, Any], dict[str, Any]]:
        # Everything read here, in the thread: taxii2-client loads lazily, on attribute access.
        found = Server(f"{server.http}/taxii2/", auth=Bearer(party.token))
        root = found.default
        assert root is not None
        facts = {
            "title": found.title,
            "url": root.url,
            "versions": root.versions,
            "max_content_length": root.max_content_length,
        }
        return facts, {c.id: c for c in root.collections}

    facts, seen = await asyncio.to_thread(read, world.unit("DE"))
    assert facts == {
        "title": "relay247 TAXII 2.1 server",
        "url": f"{server.http}/taxii2/api/",
        "versions": ["application/taxii+json;version=2.1"],
        "max_content_length": 32 * 1024 * 1024,
    }
    assert set(seen) == {GATEWAY, share}
    assert seen[share].can_read
    assert not seen[share].can_write
    _, own = await asyncio.to_thread(read, world.unit("FR"))
    assert own[share].can_write
    assert own[share].media_types == ["application/stix+json;version=2.1"]
    _, japan = await asyncio.to_thread(read, world.unit("JP"))
    assert set(japan) == {GATEWAY}


async def test_add_objects_then_page_through_them_with_next_added_after_and_manifest(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        share = await make_share(client, world.unit("FR"), None)
    writer = _collection(server, world.unit("FR"), share)
    reader = _collection(server, world.unit("JP"), share)
    first = [indicator(f"198.51.100.{n}") for n in range(15)]
    second = [indicator(f"203.0.113.{n}") for n in range(10)]

    def add() -> list[Any]:
        statuses = []
        for objects in (first, second):
            status = writer.add_objects(envelope(*objects), wait_for_completion=False)
            status.wait_until_final(poll_interval=0.05, timeout=30)
            statuses.append(status)
        return statuses

    statuses = await asyncio.to_thread(add)
    assert [(s.status, s.success_count, s.failure_count) for s in statuses] == [
        ("complete", 15, 0),
        ("complete", 10, 0),
    ]

    def pages() -> list[dict[str, Any]]:
        return list(as_pages(reader.get_objects, per_request=10))

    envelopes = await asyncio.to_thread(pages)
    assert [len(page.get("objects", [])) for page in envelopes] == [10, 10, 5]
    assert [page["more"] for page in envelopes] == [True, True, False]
    ids = [obj["id"] for page in envelopes for obj in page["objects"]]
    assert ids == [obj["id"] for obj in first + second]

    manifest = await asyncio.to_thread(reader.get_manifest)
    records = manifest["objects"]
    assert len(records) == 25
    assert {record["media_type"] for record in records} == {"application/stix+json;version=2.1"}
    first_added = records[0]["date_added"]
    assert records[14]["date_added"] == first_added  # one bundle, one date_added
    later = await asyncio.to_thread(reader.get_objects, added_after=first_added)
    assert [obj["id"] for obj in later["objects"]] == [obj["id"] for obj in second]

    typed = await asyncio.to_thread(reader.get_objects, type="malware")
    assert "objects" not in typed
    assert typed["more"] is False
    one = await asyncio.to_thread(reader.get_objects, id=first[3]["id"])
    assert [obj["id"] for obj in one["objects"]] == [first[3]["id"]]


async def test_versions_and_the_version_filter(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        share = await make_share(client, world.unit("FR"), None)
    writer = _collection(server, world.unit("FR"), share)
    reader = _collection(server, world.unit("DE"), share)
    old = indicator("192.0.2.1")
    new = {**old, "modified": "2025-04-01T00:00:00.000Z", "name": "Renamed"}

    def add_both() -> None:
        for obj in (old, new):
            status = writer.add_objects(envelope(obj))
            assert status.success_count == 1

    await asyncio.to_thread(add_both)
    versions = await asyncio.to_thread(reader.object_versions, old["id"])
    assert versions["versions"] == ["2025-03-14T10:40:00.000000Z", "2025-04-01T00:00:00.000000Z"]
    last = await asyncio.to_thread(reader.get_object, old["id"])
    assert [obj["name"] for obj in last["objects"]] == ["Renamed"]
    first = await asyncio.to_thread(reader.get_object, old["id"], version="first")
    assert [obj["name"] for obj in first["objects"]] == ["Phishing infrastructure"]
    every = await asyncio.to_thread(reader.get_objects, version="all")
    assert len(every["objects"]) == 2
    at = await asyncio.to_thread(reader.get_objects, version="2025-03-14T10:40:00.000Z")
    assert [obj["modified"] for obj in at["objects"]] == ["2025-03-14T10:40:00.000Z"]
    latest = await asyncio.to_thread(reader.get_objects)
    assert [obj["modified"] for obj in latest["objects"]] == ["2025-04-01T00:00:00.000Z"]
