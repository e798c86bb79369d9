"""The in-process runner of `relay247` (tests/cli_runner.py) answers as a subprocess would,
and leaves the test process as it found it."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from app.core.settings import database_settings
from app.requests import lifecycle
from tests.cli_runner import invoke
from tests.processes import environment, run


async def test_the_command_reads_its_env_and_the_test_process_its_own_after(
    database_url: str, tmp_path: Path
) -> None:
    before = dict(os.environ)
    ours = database_settings()
    env = environment(DATABASE_URL=database_url, RELAY247_DATA_DIR=str(tmp_path))
    code, stdout, stderr = await invoke("seed-demo", env=env)
    assert code == 0, stderr
    assert f"(also saved in {tmp_path / 'demo-credentials.json'})" in stdout
    assert stderr == ""
    assert dict(os.environ) == before
    assert database_settings() == ours
    assert database_settings().data_dir != tmp_path


async def test_stdout_stderr_and_the_exit_code_are_the_subprocess_ones() -> None:
    args = ("audit", "export", "--since", "yesterday")
    assert await invoke(*args, env=environment()) == await run(*args, env=environment())


async def test_an_unexpected_exception_fails_the_test_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> str:
        raise RuntimeError("broken table")

    monkeypatch.setattr(lifecycle, "render_table", broken)
    with pytest.raises(RuntimeError, match="broken table") as raised:
        await invoke("lifecycle", env=environment())
    assert any(frame.name == "broken" for frame in raised.traceback)


async def test_the_commands_warnings_go_to_its_stderr_and_no_one_elses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As Python's last-resort handler writes them in a process without logging set up."""
    log = logging.getLogger("app.requests.lifecycle")

    def table() -> str:
        log.info("not shown")
        log.warning("the table is late")
        other = threading.Thread(target=log.warning, args=("from another thread",))
        other.start()
        other.join()
        return "| table |\n"

    monkeypatch.setattr(lifecycle, "render_table", table)
    assert await invoke("lifecycle", env=environment()) == (0, "| table |\n", "the table is late\n")


async def test_serve_demo_and_the_embedded_postgres_stay_subprocesses(tmp_path: Path) -> None:
    for command in ("serve", "demo"):
        with pytest.raises(ValueError, match="subprocess"):
            await invoke(command, env=environment())
    env = environment(DATABASE_URL=None, RELAY247_DATA_DIR=str(tmp_path / "data"))
    with pytest.raises(AssertionError, match="embedded Postgres"):
        await invoke("purge", "--dry-run", env=env)
    assert not (tmp_path / "data").exists()
