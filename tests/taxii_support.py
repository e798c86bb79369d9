"""STIX objects and TAXII calls for the shared-data tests."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from app.models.shared_data import GATEWAY_COLLECTION_ID
from tests.factories import Party

TAXII = "application/taxii+json;version=2.1"
TLP2 = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
GATEWAY = str(GATEWAY_COLLECTION_ID)


def indicator(
    value: str = "203.0.113.7",
    *,
    tlp: str | None = "GREEN",
    modified: str = "2025-03-14T10:40:00.000Z",
    object_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": object_id or f"indicator--{uuid.uuid4()}",
        "created": "2025-03-14T10:40:00.000Z",
        "modified": modified,
        "name": "Phishing infrastructure",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": "2025-03-14T10:40:00Z",
        **extra,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP2[tlp]]
    return obj


def envelope(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"objects": list(objects)}


def headers(party: Party, **more: str) -> dict[str, str]:
    return {**party.headers, "Accept": TAXII, "Content-Type": TAXII, **more}


def objects_url(collection_id: str) -> str:
    return f"/taxii2/api/collections/{collection_id}/objects/"


async def post(
    client: httpx.AsyncClient, party: Party, collection_id: str, body: Any
) -> httpx.Response:
    return await client.post(objects_url(collection_id), json=body, headers=headers(party))


async def inbox_of(db: asyncpg.Connection, party: Party) -> str:
    found = await db.fetchval(
        "SELECT id FROM data_collections WHERE owner_agency_id = $1 AND kind = 'inbox'",
        party.agency_id,
    )
    return str(found)


async def make_share(client: httpx.AsyncClient, party: Party, audience: list[str] | None) -> str:
    response = await client.post(
        "/v1/shared-data/collections",
        json={"title": f"{party.country} share", "audience": audience},
        headers=party.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def stored(db: asyncpg.Connection, collection_id: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM stix_objects WHERE collection_id = $1", uuid.UUID(collection_id)
    )
    return count
