"""Run the `relay247` command in the test process, where a subprocess proves nothing more.

``await invoke(*args, env=env)`` answers what ``tests.processes.run`` does, ``(exit code,
stdout, stderr)``, for the same environment (``tests.processes.environment``), without a
Python start and the import of the whole service (2-3 s a call). The command runs the same
code from the same command tree (``app.cli.cli``), under typer's CliRunner, in a thread: the
commands call ``asyncio.run`` themselves, and the test's event loop (a server the test runs
in it, say) goes on meanwhile.

What a subprocess would give and this keeps:

- the environment: for the command's run, ``os.environ`` is ``env`` exactly (a variable of
  the test process that ``env`` lacks, RELAY247_DATA_DIR say, is unset); a command reads its
  settings from the environment when it starts (nothing caches them), so it reads ``env`` and
  the test process its own environment afterwards;
- stdout and stderr apart; the exit code of ``sys.exit``, ``typer.Exit`` or a usage error;
- the WARNING and worse records the command logs, on its stderr, as Python's last-resort
  handler writes them in a process that configured no logging (no command but serve and demo
  configures any);
- an exception the command does not handle fails the test with its traceback (a subprocess
  would print it and exit 1).

What stays a subprocess (``tests.processes``): `relay247 serve` and `relay247 demo` (uvicorn,
its signals), the embedded Postgres (DATABASE_URL unset: it installs a SIGTERM handler and
writes os.environ), a run in another working folder, and anything about the process itself
(exit on a signal, its pipes, the installed console script). ``invoke`` refuses serve and demo
and fails a command that would start the embedded Postgres.

While the command runs, ``os.environ`` and ``sys.stdout``/``sys.stderr`` are the command's for
the whole process: code of the test's event loop that reads the environment then reads the
command's. One command runs at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock

from typer.testing import CliRunner

from app.cli import cli

# Started in another process (tests.processes) and nowhere else.
_SUBPROCESS_ONLY = {"serve", "demo"}
_one_at_a_time = threading.Lock()


async def invoke(*args: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    """`relay247 ARGS` in this process, with ``env`` as its whole environment."""
    if args and args[0] in _SUBPROCESS_ONLY:
        raise ValueError(f"relay247 {args[0]} runs in a subprocess: use tests.processes")
    return await asyncio.to_thread(_invoke, list(args), dict(env))


def _invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    # What the command sees as its environment: env's variables, and no other.
    environ: dict[str, str | None] = {key: None for key in os.environ if key not in env}
    environ.update(env)
    with _one_at_a_time, _no_embedded_postgres(), _warnings_to_stderr():
        result = CliRunner().invoke(cli, args, env=environ, prog_name="relay247")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        result.exception.add_note(
            f"raised by `relay247 {' '.join(args)}` (in-process)\n"
            f"its stdout:\n{result.stdout}\nits stderr:\n{result.stderr}"
        )
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _embedded_postgres(*_: Any, **__: Any) -> Any:
    raise AssertionError(
        "an in-process relay247 would start the embedded Postgres (DATABASE_URL unset in its "
        "env): run it in a subprocess (tests.processes.run)"
    )


def _no_embedded_postgres() -> contextlib.AbstractContextManager[Any]:
    return mock.patch("app.cli.common.start_embedded_server", _embedded_postgres)


class _LastResort(logging.Handler):
    """Python's last-resort handler (WARNING and worse, the bare message, to the current
    sys.stderr) for the records of one thread: the command's."""

    def __init__(self, thread: int) -> None:
        super().__init__(logging.WARNING)
        self.thread = thread

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # as the last-resort handler does
            self.handleError(record)


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    handler = _LastResort(threading.get_ident())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
