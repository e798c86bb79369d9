"""GET /metrics: every declared family, route templates as labels, nothing private."""

from __future__ import annotations

import uuid

import pytest

from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import World
from tests.scrape import samples, scrape, value

FAMILIES = [
    "relay247_http_requests_total",
    "relay247_http_request_duration_seconds",
    "relay247_http_requests_in_flight",
    "relay247_http_requests_shed_total",
    "relay247_db_pool_connections",
    "relay247_db_pool_size",
    "relay247_ws_connections",
    "relay247_ws_events_sent_total",
    "relay247_ws_closes_total",
    "relay247_push_latency_seconds",
    "relay247_ws_backlog_events",
    "relay247_loop_restarts_total",
    "relay247_loop_up",
    "relay247_audit_checkpoints_total",
    "relay247_audit_checkpoint_position",
    "relay247_audit_exports_stalled_total",
]


@pytest.mark.slow
async def test_every_family_is_rendered_and_the_pool_is_read_at_scrape_time(
    server: RunningServer,
) -> None:
    async with http(server.http) as client:
        assert (await client.get("/readyz")).status_code == 200
        text = await scrape(client)
        spec = (await client.get("/openapi.json")).json()
    for family in FAMILIES:
        assert f"# HELP {family} " in text, family
        assert f"# TYPE {family} " in text, family
    assert "process_resident_memory_bytes" in text
    states = {labels["state"] for labels, _ in samples(text, "relay247_db_pool_connections")}
    assert states == {"checked_out", "idle", "overflow"}
    assert value(text, "relay247_db_pool_connections", state="idle") >= 1
    assert value(text, "relay247_db_pool_size") == 10
    assert "/metrics" not in spec["paths"]


async def test_routes_are_labelled_by_template_and_unknown_paths_by_one_value(
    server: RunningServer, world: World
) -> None:
    some_id = str(uuid.uuid4())
    junk = "r247_0123456789ab_notatoken%3Czzjunk%3E"
    async with http(server.http) as client:
        response = await client.get(f"/v1/requests/{some_id}", headers=world.desk("DE").headers)
        assert response.status_code == 404
        assert (await client.get(f"/v1/nothing/{junk}")).status_code == 404
        assert (await client.request("PROPFIND", "/healthz")).status_code == 405
        assert (await client.get("/docs")).status_code == 200
        text = await scrape(client)

    requests = samples(text, "relay247_http_requests_total")
    labelled = {(labels["method"], labels["route"], labels["status"]) for labels, _ in requests}
    assert ("GET", "/v1/requests/{request_id}", "404") in labelled
    assert ("GET", "unmatched", "404") in labelled
    assert ("other", "/healthz", "405") in labelled
    assert ("GET", "/docs", "200") in labelled
    durations = samples(text, "relay247_http_request_duration_seconds_count")
    assert ({"method": "GET", "route": "/v1/requests/{request_id}"}, 1.0) in durations
    assert some_id not in text
    assert "notatoken" not in text
    assert "zzjunk" not in text


async def test_no_token_principal_or_content_in_the_output(
    server: RunningServer, world: World
) -> None:
    marker = "MARKER-5d1c9e"
    async with http(server.http) as client:
        created = await submit_request(
            client, world.unit("FR"), subject=f"Preserve {marker}", details=f"{marker} details"
        )
        read = await client.get(f"/v1/requests/{created['id']}", headers=world.desk("DE").headers)
        assert read.status_code == 200
        assert marker in read.text
        text = await scrape(client)
    assert (
        value(
            text, "relay247_http_requests_total", method="POST", route="/v1/requests", status="201"
        )
        == 1
    )
    for secret in (marker, world.unit("FR").token, world.desk("DE").token, created["id"]):
        assert secret not in text
    for party in (world.unit("FR"), world.desk("DE")):
        assert str(party.principal_id) not in text
        assert party.token.split("_")[1] not in text, "not even a token's public prefix"


async def test_delivery_and_background_loops_are_measured(
    server: RunningServer, world: World
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    leaving = await Dashboard.open(server.ws, world.desk("JP"))
    await leaving.close()
    async with http(server.http) as client:
        await submit_request(client, world.unit("FR"))
        await desk.receive_event("request.assigned")
        text = await scrape(client)
    assert value(text, "relay247_ws_connections") == 1
    assert value(text, "relay247_ws_events_sent_total") == 1
    assert value(text, "relay247_push_latency_seconds_count") == 1
    assert value(text, "relay247_ws_closes_total", code="1000") == 1
    assert value(text, "relay247_ws_backlog_events") == 0
    for loop in ("hub.dispatch", "hub.listen", "notifier", "sockets.token_watch"):
        assert value(text, "relay247_loop_restarts_total", loop=loop) == 0
    assert value(text, "relay247_loop_up", loop="hub.listen") == 1
    await desk.close()
