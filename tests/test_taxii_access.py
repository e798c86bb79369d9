"""Who reads and writes which TAXII collection, for every role of the authorization matrix
(tests/test_authorization.py's WHO), on each kind of collection: a partner's inbox (its own
and another's), the gateway, and shares of Germany's unit read by Germany or by the whole
network. The TAXII routes are outside the OpenAPI document, so outside that matrix' table.

The expectations are docs/shared-data.md's table, stated here on their own: a collection one
may not read is 404 on every endpoint (as if it did not exist), one read but not written is
403 on POST; a status is its submitting agency's and the global desk's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World
from tests.taxii_support import (
    GATEWAY,
    TAXII,
    envelope,
    headers,
    inbox_of,
    indicator,
    make_share,
    objects_url,
    post,
)
from tests.test_authorization import MEMBERS, READS_THE_DE_SHARE, WHO

DE_UNIT = "target country's unit (DE)"


@dataclass(frozen=True)
class Kind:
    readers: frozenset[str]
    writers: frozenset[str]
    status_readers: frozenset[str]  # of the submission that stored its object


KINDS = {
    "DE partner's inbox": Kind(
        frozenset({"partner (DE)", "global desk"}),
        frozenset({"partner (DE)"}),
        frozenset({"partner (DE)", "global desk"}),
    ),
    "FR partner's inbox": Kind(
        frozenset({"other partner (FR)", "global desk"}),
        frozenset({"other partner (FR)"}),
        frozenset({"other partner (FR)", "global desk"}),
    ),
    # Written by triage only; its object's status is the DE partner's submission's.
    "gateway": Kind(
        frozenset({*MEMBERS, "global desk"}),
        frozenset(),
        frozenset({"partner (DE)", "global desk"}),
    ),
    # Shares: the owner agency writes (Germany's unit; not Germany's NCB, another agency).
    "DE unit's share for DE": Kind(
        frozenset(READS_THE_DE_SHARE), frozenset({DE_UNIT}), frozenset({DE_UNIT, "global desk"})
    ),
    "DE unit's share for the network": Kind(
        frozenset({*MEMBERS, "global desk"}),
        frozenset({DE_UNIT}),
        frozenset({DE_UNIT, "global desk"}),
    ),
}


async def _stored(
    client: httpx.AsyncClient, party: Party, collection: str
) -> tuple[dict[str, Any], str]:
    obj = indicator()
    response = await post(client, party, collection, envelope(obj))
    assert response.status_code == 202, response.text
    assert response.json()["success_count"] == 1, response.text
    return obj, str(response.json()["id"])


async def _collection_with_an_object(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, kind: str
) -> tuple[str, str, str]:
    """The collection of ``kind``, the STIX id of a GREEN object in it, and the status id of
    the submission that stored it."""
    if kind.endswith("inbox") or kind == "gateway":
        partner = world.partner("FR" if kind.startswith("FR") else "DE")
        inbox = await inbox_of(db, partner)
        obj, status = await _stored(client, partner, inbox)
        if kind != "gateway":
            return inbox, obj["id"], status
        page = await client.get(
            f"/v1/shared-data/submissions/{status}/objects", headers=world.gs.headers
        )
        decided = await client.post(
            f"/v1/shared-data/objects/{page.json()['items'][0]['row_id']}/decision",
            json={"decision": "accept", "note": "Corroborated"},
            headers=world.gs.headers,
        )
        assert decided.status_code == 200, decided.text
        return GATEWAY, obj["id"], status
    share = await make_share(client, world.unit("DE"), ["DE"] if kind.endswith("DE") else None)
    obj, status = await _stored(client, world.unit("DE"), share)
    return share, obj["id"], status


def _ids(response: httpx.Response, field: str = "objects") -> set[str]:
    if response.status_code != 200:
        return set()
    return {item["id"] for item in response.json().get(field, [])}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_each_role_reads_and_writes_only_what_the_table_says(
    server: RunningServer, world: World, db: asyncpg.Connection, kind: str
) -> None:
    rule = KINDS[kind]
    wrong: dict[str, list[str]] = {}
    async with http(server.http) as client:
        collection, stix_id, status = await _collection_with_an_object(client, db, world, kind)
        base = f"/taxii2/api/collections/{collection}/"
        for who, party_of in WHO.items():
            party = party_of(world)
            reads, writes = who in rule.readers, who in rule.writers
            seen = 200 if reads else 404
            problems: list[str] = []

            async def get(path: str, party: Party = party) -> httpx.Response:
                return await client.get(path, headers=headers(party))

            listed = (await get("/taxii2/api/collections/")).json().get("collections", [])
            mine = [c for c in listed if c["id"] == collection]
            if (bool(mine), bool(mine and mine[0]["can_write"])) != (reads, writes):
                problems.append(f"in the list: {mine}")
            answers = {
                "collection": await get(base),
                "objects": await get(objects_url(collection)),
                "object": await get(f"{base}objects/{stix_id}/"),
                "versions": await get(f"{base}objects/{stix_id}/versions/"),
                "manifest": await get(f"{base}manifest/"),
                "status": await get(f"/taxii2/api/status/{status}/"),
                "post": await post(client, party, collection, envelope(indicator())),
            }
            expected = {name: seen for name in answers}
            expected["status"] = 200 if who in rule.status_readers else 404
            expected["post"] = 202 if writes else 403 if reads else 404
            for name, answer in answers.items():
                if answer.status_code != expected[name]:
                    problems.append(f"{name}: {answer.status_code} (expected {expected[name]})")
                elif answer.status_code >= 400 and answer.headers["content-type"] != TAXII:
                    problems.append(f"{name}: an error that is not a TAXII message")
            if reads and not (
                stix_id in _ids(answers["objects"])
                and stix_id in _ids(answers["object"])
                and stix_id in _ids(answers["manifest"])
            ):
                problems.append("a reader does not find the object")
            if problems:
                wrong[who] = problems
    assert not wrong, wrong
