"""`relay247 webhooks ...`: an operator manages an agency's endpoints at the shell, audited,
with the API's own validation."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from app.models.enums import Role
from tests.cli_runner import invoke
from tests.factories import World
from tests.processes import environment


async def test_an_operator_manages_an_agencys_endpoints(
    world: World, database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    env = environment(
        DATABASE_URL=database_url, RELAY247_SECRET_KEY_FILE=str(tmp_path / "secret.key")
    )
    agency = str(world("DE", Role.NCB).agency_id)
    code, out, err = await invoke(
        "webhooks", "create", "--agency-id", agency, "--url", "https://cases.example.org/h",
        "--scheme", "v1a", "--event-type", "request.assigned", env=env,
    )  # fmt: skip
    assert code == 0, err
    made = json.loads(out)
    assert made["secret"].startswith("whpk_")
    assert made["channels"] == [f"agency:{agency}", "desk:DE"]
    assert made["created_by"] is None  # an operator, no principal
    endpoint = made["id"]

    code, out, err = await invoke("webhooks", "list", "--agency-id", agency, env=env)
    assert code == 0, err
    assert endpoint in out
    assert "v1a" in out
    code, out, err = await invoke("webhooks", "rotate", endpoint, "--scheme", "v1", env=env)
    assert code == 0, err
    assert out.strip().startswith("whsec_")
    for command in ("disable", "enable"):
        code, _, err = await invoke("webhooks", command, endpoint, env=env)
        assert code == 0, err
    code, out, err = await invoke(
        "webhooks", "recover", endpoint, "--since", "2026-01-01T00:00:00", env=env
    )
    assert code == 0, err
    assert out.strip() == "0 messages queued again"
    code, _, err = await invoke("webhooks", "delete", endpoint, env=env)
    assert code == 0, err
    actions = await db.fetch(
        "SELECT action, actor_principal_id FROM audit_entries WHERE object_id = $1 ORDER BY id",
        endpoint,
    )
    assert [a["action"] for a in actions] == [
        "webhook_endpoint.created",
        "webhook_endpoint.rotated",
        "webhook_endpoint.changed",
        "webhook_endpoint.changed",
        "webhook_endpoint.recovered",
        "webhook_endpoint.deleted",
    ]
    assert {a["actor_principal_id"] for a in actions} == {None}


async def test_bad_input_at_the_shell_is_refused_as_over_rest(
    world: World, database_url: str, tmp_path: Path
) -> None:
    env = environment(
        DATABASE_URL=database_url, RELAY247_SECRET_KEY_FILE=str(tmp_path / "secret.key")
    )
    agency = str(world("DE", Role.NCB).agency_id)
    for url, why in (
        ("https://169.254.169.254/", "may not reach"),
        ("http://cases.example.org/", "https"),
    ):
        code, _, err = await invoke(
            "webhooks", "create", "--agency-id", agency, "--url", url, env=env
        )
        assert code == 1
        assert why in err
    code, _, err = await invoke(
        "webhooks", "create", "--agency-id", agency, "--url", "https://x.example/",
        "--event-type", "nope", env=env,
    )  # fmt: skip
    assert code == 2
    assert "not an event type" in err
