"""`relay247 contacts`, as an operator uses it: the same rules and audit as the API."""

from __future__ import annotations

import asyncpg

from tests.cli_runner import invoke
from tests.factories import World
from tests.processes import environment


async def test_an_operator_adds_lists_and_removes_a_persons_methods(
    world: World, database_url: str, db: asyncpg.Connection
) -> None:
    env = environment(DATABASE_URL=database_url)
    desk = str(world.desk("DE").principal_id)
    code, out, stderr = await invoke(
        "contacts", "add", desk, "--kind", "email", "--address", "duty@police.example", env=env
    )
    assert code == 0, stderr
    method_id = out.strip()
    code, out, stderr = await invoke("contacts", "list", desk, env=env)
    assert code == 0, stderr
    assert method_id in out
    assert "not verified" in out
    # Bad input names the field; a wrong code is refused.
    code, _, stderr = await invoke(
        "contacts", "add", desk, "--kind", "email", "--address", "nobody", env=env
    )
    assert code == 2
    assert "address" in stderr
    code, _, stderr = await invoke("contacts", "verify", desk, method_id, "AAAA-AAAA", env=env)
    assert code == 1
    assert "code" in stderr
    code, _, stderr = await invoke("contacts", "remove", desk, method_id, env=env)
    assert code == 0, stderr
    assert await db.fetchval("SELECT count(*) FROM contact_methods") == 0
    actions = await db.fetch(
        "SELECT action, actor_principal_id FROM audit_entries WHERE object_id = $1 ORDER BY id",
        method_id,
    )
    assert [(a["action"], a["actor_principal_id"]) for a in actions] == [
        ("contact_method.created", None),
        ("contact_method.removed", None),
    ]
