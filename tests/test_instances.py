"""Several service processes on one database: an event reaches a socket whichever instance
took the write."""

from __future__ import annotations

import pytest

from tests.clients import Dashboard, http
from tests.conftest import free_port
from tests.factories import World, request_body
from tests.processes import environment, serving


@pytest.mark.slow
async def test_post_to_one_instance_reaches_dashboard_on_another(
    world: World, database_url: str
) -> None:
    env = environment(DATABASE_URL=database_url)
    async with serving(free_port(), env) as first, serving(free_port(), env) as second:
        ws_second = second.replace("http", "ws") + "/v1/ws"
        ws_first = first.replace("http", "ws") + "/v1/ws"
        desk = await Dashboard.open(ws_second, world.desk("DE"))
        requester = await Dashboard.open(ws_first, world.unit("FR"))

        async with http(first) as client:
            response = await client.post(
                "/v1/requests", json=request_body("DE"), headers=world.unit("FR").headers
            )
        request_id = response.json()["id"]
        assigned = await desk.receive_event("request.assigned")
        assert assigned["data"]["request_id"] == request_id

        # Acknowledged on the second instance, seen by the requester on the first.
        await desk.send({"type": "ack", "request_id": request_id})
        assert (await desk.receive())["type"] == "ack_result"
        acknowledged = await requester.receive_event("request.acknowledged")
        assert acknowledged["data"]["request_id"] == request_id
        await desk.close()
        await requester.close()


@pytest.mark.slow
async def test_workers_of_one_instance_share_the_stream(world: World, database_url: str) -> None:
    env = environment(DATABASE_URL=database_url)
    async with serving(free_port(), env, "--workers", "2") as base:
        ws = base.replace("http", "ws") + "/v1/ws"
        # Several sockets land on either worker; each must see every assignment.
        desks = [await Dashboard.open(ws, world.desk("DE")) for _ in range(4)]
        async with http(base) as client:
            ids = [
                (
                    await client.post(
                        "/v1/requests", json=request_body("DE"), headers=world.unit("FR").headers
                    )
                ).json()["id"]
                for _ in range(3)
            ]
        for desk in desks:
            got = [
                (await desk.receive_event("request.assigned"))["data"]["request_id"] for _ in ids
            ]
            assert got == ids
            await desk.close()
