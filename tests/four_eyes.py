"""Four-eyes set-up shared by its tests: France's policy puts every emergency disclosure it
sends under approval, France's unit has a second officer, and a held request is made over
the public API (tests/test_four_eyes*.py, the authorization matrix)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from app.core.database import Database
from app.models.enums import Role
from tests.factories import Party, World, make_party, request_body


def emergency_body(target: str = "DE", **overrides: Any) -> dict[str, Any]:
    return request_body(
        target,
        **{
            "type": "emergency_disclosure",
            "priority": "emergency",
            "headline": "Kidnapping: account of the caller",
            "legal_basis": "Second Additional Protocol Art. 9",
            **overrides,
        },
    )


async def country_policy(client: httpx.AsyncClient, world: World, country: str = "FR") -> None:
    """The country's NCB puts its emergency disclosures under four-eyes, over REST."""
    response = await client.patch(
        f"/v1/countries/{country}",
        json={"four_eyes": True},
        headers=world(country, Role.NCB).headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["four_eyes"] is True


async def second_officer(database: Database, world: World, country: str = "FR") -> Party:
    """Another unit officer of the country's unit: the one who may approve."""
    unit = world.unit(country)
    return await make_party(
        database,
        agency_id=unit.agency_id,
        country=country,
        role=Role.UNIT,
        name=f"{country} second officer",
    )


async def hold(client: httpx.AsyncClient, sender: Party, **overrides: Any) -> dict[str, Any]:
    """Submit an emergency disclosure that must be held: answered 202, not sent."""
    response = await client.post(
        "/v1/requests", json=emergency_body(**overrides), headers=sender.headers
    )
    assert response.status_code == 202, response.text
    held: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/approvals/{held['id']}"
    assert held["status"] == "awaiting_approval"
    return held


async def sent_at_all(db: asyncpg.Connection, approval_id: str) -> dict[str, int]:
    """What exists of it on the target's side: the request, its deadlines, its events."""
    key = uuid.UUID(approval_id)
    return {
        "requests": await db.fetchval("SELECT count(*) FROM requests WHERE id = $1", key),
        "deadlines": await db.fetchval(
            "SELECT count(*) FROM request_deadlines WHERE request_id = $1", key
        ),
        "request_events": await db.fetchval(
            "SELECT count(*) FROM events WHERE request_id = $1 AND type LIKE 'request.%'", key
        ),
    }


async def decisions(db: asyncpg.Connection, approval_id: str) -> list[str]:
    """The audit trail's decisions on it, in order (its request, held, and read, left out)."""
    rows = await db.fetch(
        "SELECT action FROM audit_entries WHERE object_type = 'approval' AND object_id = $1 "
        "AND action NOT IN ('approval.requested', 'approval.read') ORDER BY id",
        approval_id,
    )
    return [row["action"] for row in rows]
