"""Drills as tests use them: schedule through the API, and time driven by the test (a drill
made due now, as if its time had come, and the drill workers woken the way a scheduling of a
near drill wakes them). The sending is the real worker's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from app.drills.scheduling import WAKE_CHANNEL
from app.realtime.notifier import PG_CHANNEL
from tests.factories import Party
from tests.waiting import eventually


def later(**delta: float) -> str:
    """An instant that far ahead, as the API takes it."""
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def schedule(
    client: httpx.AsyncClient, party: Party, *countries: str, **body: Any
) -> httpx.Response:
    """POST /v1/drills for ``countries``; by default at an hour from now."""
    payload: dict[str, Any] = {"countries": list(countries), **body}
    if "at" not in body and "window_start" not in body:
        payload["at"] = later(hours=1)
    return await client.post("/v1/drills", json=payload, headers=party.headers)


async def scheduled(client: httpx.AsyncClient, party: Party, *countries: str) -> list[str]:
    response = await schedule(client, party, *countries)
    assert response.status_code == 201, response.text
    return [item["id"] for item in response.json()["items"]]


async def bring_due(db: asyncpg.Connection, *drill_ids: str, wake: bool = True) -> None:
    """Move the drills back in time, window and all, until they are due now; wake the
    workers."""
    changed = await db.execute(
        "UPDATE drills SET window_start = window_start - (due_at - now()), "
        "window_end = window_end - (due_at - now()), due_at = now() WHERE id = ANY($1)",
        [uuid.UUID(i) for i in drill_ids],
    )
    assert changed == f"UPDATE {len(drill_ids)}", changed
    if wake:
        await db.execute("SELECT pg_notify($1, $2)", PG_CHANNEL, WAKE_CHANNEL)


async def request_of(db: asyncpg.Connection, drill_id: str) -> str:
    """The request the drill was sent as, once a worker sent it."""
    found: dict[str, str] = {}

    async def sent() -> bool:
        request_id = await db.fetchval(
            "SELECT id FROM requests WHERE drill_id = $1", uuid.UUID(drill_id)
        )
        if request_id is not None:
            found["id"] = str(request_id)
        return request_id is not None

    await eventually(sent)
    return found["id"]


async def drill(client: httpx.AsyncClient, party: Party, drill_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/drills/{drill_id}", headers=party.headers)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown
