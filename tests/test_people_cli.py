"""The `relay247` commands for people and tokens, as an operator uses them."""

from __future__ import annotations

import httpx

from tests.cli_runner import invoke
from tests.conftest import free_port
from tests.factories import World
from tests.processes import environment, serving


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_admin_is_bootstrapped_on_an_empty_database_from_the_command_line(
    database_url: str,
) -> None:
    env = environment(DATABASE_URL=database_url)
    code, help_text, _ = await invoke("--help", env=env)
    assert "admin bootstrap" in help_text
    code, out, stderr = await invoke("admin", "bootstrap", "--name", "First admin", env=env)
    assert code == 0, stderr
    token = out.strip()
    assert token.startswith("r247_")
    again, _, stderr = await invoke("admin", "bootstrap", env=env)
    assert again == 1
    assert "already has an admin" in stderr

    async with serving(free_port(), env) as base, httpx.AsyncClient(base_url=base) as client:
        me = (await client.get("/v1/me", headers=bearer(token))).json()
        assert me["role"] == "admin"
        assert me["agency"]["kind"] == "gs"
        # From there on, the API does the rest: an NCB and its first token.
        agency = await client.post(
            "/v1/agencies",
            json={"country": "FR", "kind": "ncb", "name": "NCB Paris"},
            headers=bearer(token),
        )
        assert agency.status_code == 201, agency.text
        principal = await client.post(
            "/v1/principals",
            json={"agency_id": agency.json()["id"], "role": "ncb", "name": "Duty officer"},
            headers=bearer(token),
        )
        assert principal.status_code == 201, principal.text
        issued = await client.post(
            f"/v1/principals/{principal.json()['id']}/tokens", json={}, headers=bearer(token)
        )
        assert issued.status_code == 201, issued.text
        ncb_me = await client.get("/v1/me", headers=bearer(issued.json()["token"]))
        assert ncb_me.json()["role"] == "ncb"


async def test_tokens_list_rotate_and_principals_disable_enable(
    world: World, database_url: str
) -> None:
    env = environment(DATABASE_URL=database_url)
    desk = world.desk("DE")
    prefix = desk.token.split("_")[1]

    code, table, stderr = await invoke("tokens", "list", "--country", "de", env=env)
    assert code == 0, stderr
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["prefix", "state", "cc"]
    assert len(lines) == 1 + 4, "DE's unit, desk, NCB and partner"
    assert any(line.startswith(prefix) and "active" in line for line in lines)
    assert desk.token.split("_", 2)[2] not in table
    code, table, _ = await invoke("tokens", "list", "--principal", str(desk.principal_id), env=env)
    assert len(table.splitlines()) == 2

    code, out, stderr = await invoke(
        "tokens", "rotate", desk.token, "--overlap-seconds", "0", env=env
    )
    assert code == 0, stderr
    new_token = out.strip()
    assert new_token.startswith("r247_")
    code, _, stderr = await invoke("tokens", "rotate", prefix, env=env)
    assert code == 1
    assert "only a working token rotates" in stderr

    code, _, stderr = await invoke("principals", "disable", str(desk.principal_id), env=env)
    assert code == 0, stderr
    code, table, _ = await invoke("tokens", "list", "--agency", str(desk.agency_id), env=env)
    assert "(principal disabled)" in table
    async with serving(free_port(), env) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/v1/me", headers=bearer(new_token))).status_code == 401
        code, _, stderr = await invoke("principals", "enable", str(desk.principal_id), env=env)
        assert code == 0, stderr
        assert (await client.get("/v1/me", headers=bearer(new_token))).status_code == 200
        assert (await client.get("/v1/me", headers=desk.headers)).status_code == 401

    code, _, stderr = await invoke(
        "principals", "disable", "0b9d1f06-4a57-4b5f-8d5e-1c2b3a4d5e6f", env=env
    )
    assert code == 1
    assert "no principal" in stderr
