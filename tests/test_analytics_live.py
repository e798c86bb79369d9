"""Response analytics as the service keeps them: each request's figures are written by the
action that makes it final, in its transaction, removed by a reopen, and are exactly what
`relay247 analytics rebuild` recomputes from scratch, row for row."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from app.models.enums import RequestAction
from tests.clients import http, submit_request
from tests.conftest import RunningServer, running_server
from tests.factories import Party, World
from tests.outcomes import outcome_rows, rollup_rows
from tests.scrape import samples, scrape, value
from tests.test_analytics import rebuild, set_the_scene
from tests.waiting import beats

REASON = "Outside what our law lets us preserve"


async def act(
    client: httpx.AsyncClient, party: Party, request_id: str, action: RequestAction, **body: Any
) -> None:
    response = await client.post(
        f"/v1/requests/{request_id}/actions/{action.value}", json=body or None,
        headers=party.headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text


async def answered_and_closed(client: httpx.AsyncClient, world: World, target: str) -> str:
    sender = world.unit("FR")
    request_id = str((await submit_request(client, sender, target))["id"])
    acked = await client.post(f"/v1/requests/{request_id}/ack", headers=world.desk(target).headers)
    assert acked.status_code == 200, acked.text
    await act(client, world.desk(target), request_id, RequestAction.RESPOND)
    await act(client, sender, request_id, RequestAction.CLOSE)
    return request_id


async def test_the_service_writes_what_the_rebuild_recomputes(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    async with http(server.http) as client:
        closed = await answered_and_closed(client, world, "DE")
        declined = str((await submit_request(client, world.unit("JP"), "DE"))["id"])
        await act(client, world.desk("DE"), declined, RequestAction.DECLINE, reason=REASON)
        cancelled = str((await submit_request(client, world.unit("DE"), "FR"))["id"])
        await act(client, world.unit("DE"), cancelled, RequestAction.CANCEL, reason=REASON)
        reopened = await answered_and_closed(client, world, "JP")
        still_open = str((await submit_request(client, world.unit("FR"), "JP"))["id"])
        written = await outcome_rows(db)
        assert {str(key) for key in written} == {closed, declined, cancelled, reopened}
        assert written[next(k for k in written if str(k) == closed)]["clock"] == "met"

        await act(client, world.unit("FR"), reopened, RequestAction.REOPEN, reason=REASON)
    after_reopen = await outcome_rows(db)
    assert {str(key) for key in after_reopen} == {closed, declined, cancelled}
    assert still_open not in {str(key) for key in after_reopen}

    code, output = await rebuild(database_url, "--check")
    assert (code, output.strip()) == (
        0,
        "request_outcomes matches the records; the rollup, request_outcomes",
    )
    kept = await rollup_rows(db)
    # The reopened request's cell (the only JP-bound one) is gone, not left at zero.
    assert kept[0]
    assert all(cell[1] != "JP" for cell in kept[0])
    assert sum(cell[6] for cell in kept[0]) == 3  # requests counted
    code, output = await rebuild(database_url)
    assert code == 0, output
    assert await outcome_rows(db) == after_reopen
    assert await rollup_rows(db) == kept


async def test_metrics_show_the_figures_as_histograms_without_request_labels(
    db: asyncpg.Connection, world: World, database_url: str
) -> None:
    await set_the_scene(db, world)
    await rebuild(database_url)
    # The loop's first count is at start: the scene is there by then.
    async with running_server(database_url) as server, http(server.http) as client:
        if server.app.state.supervisor.health["analytics.metrics"].last_beat is None:
            await beats(server.app, "analytics.metrics", 1)
        text = await scrape(client)
    # Urgent: late_night (acknowledged in 2,700 s) and cancelled_early (never acknowledged).
    name = "relay247_request_response_seconds"
    urgent_ack = {"stage": "acknowledge", "priority": "urgent"}
    assert value(text, f"{name}_bucket", **urgent_ack, le="1800.0") == 0
    assert value(text, f"{name}_bucket", **urgent_ack, le="3600.0") == 1
    assert value(text, f"{name}_count", **urgent_ack) == 1
    assert value(text, f"{name}_sum", **urgent_ack) == 2700
    close = {"stage": "close", "priority": "routine"}  # after_dst 93,600 s, ignored 7,200 s
    assert value(text, f"{name}_bucket", **close, le="86400.0") == 1
    assert value(text, f"{name}_count", **close) == 2
    assert value(text, "relay247_requests_escalated_total", priority="urgent") == 1
    assert value(text, "relay247_request_clocks_total", priority="routine", outcome="breached") == 2
    assert value(text, "relay247_request_clocks_total", priority="urgent", outcome="met") == 1
    labels = {key for labels, _ in samples(text, f"{name}_bucket") for key in labels}
    assert labels == {"stage", "priority", "le"}


async def test_requests_made_final_at_once_in_one_cell_are_all_counted(
    server: RunningServer, db: asyncpg.Connection, world: World, database_url: str
) -> None:
    # Same sender, target, type, priority and day: one cell, whose row each cancel updates
    # under its lock, the others waiting for its commit (no update lost, no deadlock).
    async with http(server.http) as client:
        ids = [str((await submit_request(client, world.unit("FR"), "DE"))["id"]) for _ in range(6)]
        await asyncio.gather(
            *(
                act(client, world.unit("FR"), request_id, RequestAction.CANCEL, reason=REASON)
                for request_id in ids
            )
        )
    cells, buckets = await rollup_rows(db)
    assert sum(cell[6] for cell in cells) == 6
    assert sum(row[8] for row in buckets if row[6] == "close") == 6
    code, output = await rebuild(database_url, "--check")
    assert code == 0, output
