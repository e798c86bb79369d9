"""Evidence files over the API: upload, list, download, names, types, TLP, H2 re-sharing."""

from __future__ import annotations

import random

from tests.clients import http, submit_request
from tests.conftest import RunningServer
from tests.factories import World


async def test_smoke(server: RunningServer, world: World) -> None:
    data = random.Random(1).randbytes(3 * 1024 * 1024)
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"))
        response = await client.post(
            f"/v1/requests/{created['id']}/files",
            params={"name": "../../etc/passwd"},
            content=data,
            headers=world.unit("FR").headers,
        )
        print(response.status_code, response.text)
        assert response.status_code == 201
        got = await client.get(f"/v1/files/{response.json()['id']}/content", headers=world.desk("DE").headers)
        print(got.status_code, got.headers)
        assert got.content == data
