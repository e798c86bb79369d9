"""An unexpected database failure is logged with its request id, and without the content
of the request that caused it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import free_port
from tests.factories import World, request_body
from tests.faults import inserts_refused
from tests.processes import environment, serving
from tests.taxii_support import inbox_of


@pytest.mark.slow
async def test_a_failed_insert_is_logged_without_the_request_content(
    database_url: str, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    marker = "MARKER-c0ffee"
    log = tmp_path / "server.log"
    env = environment(DATABASE_URL=database_url, RELAY247_LOG_FORMAT="json")
    async with (
        inserts_refused(db, "requests"),
        serving(free_port(), env, log=log) as base,
        httpx.AsyncClient(base_url=base) as c,
    ):
        response = await c.post(
            "/v1/requests",
            json=request_body(subject=f"Preserve {marker}", details=f"{marker} details"),
            headers={**world.unit("FR").headers, "X-Request-Id": "failing-insert"},
        )
    assert response.status_code == 500
    written = log.read_text()
    # What failed and where, by class and frame; never an exception's message, which may
    # quote the statement's values.
    assert "RaiseError" in written, "the kind of failure is logged"
    for content in (marker, "negotiator@example.org", "203.0.113.7", "disk full"):
        assert content not in written
    records = [json.loads(line) for line in written.splitlines() if line.strip()]
    unhandled = next(r for r in records if r["message"].startswith("unhandled error"))
    assert unhandled["request_id"] == "failing-insert"
    assert "app/requests/intake.py" in unhandled["message"]


@pytest.mark.slow
async def test_a_misp_events_values_are_not_logged_by_pymisp(
    database_url: str, world: World, db: asyncpg.Connection, tmp_path: Path
) -> None:
    # pymisp logs each attribute it finds invalid with its value: a partner's indicator.
    marker = "marker-5eaf00d"
    partner = world.partner("FR")
    inbox = await inbox_of(db, partner)
    event = {
        "Event": {
            "uuid": str(uuid.uuid4()),
            "info": "probe",
            "date": "2024-01-01",
            "timestamp": "1704067200",
            "Orgc": {"name": "o", "uuid": str(uuid.uuid4())},
            "Tag": [{"name": "tlp:green"}],
            "Attribute": [
                {"uuid": str(uuid.uuid4()), "type": "domain", "value": f"<{marker}>.example"},
                {"uuid": str(uuid.uuid4()), "type": "ip-dst", "value": marker},
            ],
        }
    }
    log = tmp_path / "server.log"
    env = environment(DATABASE_URL=database_url)
    async with serving(free_port(), env, log=log) as base, httpx.AsyncClient(base_url=base) as c:
        response = await c.post(
            "/v1/shared-data/misp-events",
            params={"collection": inbox},
            content=json.dumps(event),
            headers={**partner.headers, "Content-Type": "application/json"},
        )
    assert response.status_code in (202, 422), response.text
    assert marker not in log.read_text()
