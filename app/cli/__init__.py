"""The `relay247` command: serve, migrate, demo, seed-demo, and directory administration.

On an empty database, `relay247 migrate` then `relay247 admin bootstrap` make the first
admin and print its token; everything else can then be done over the API.

`app.py` holds the command tree; `runtime.py` runs the service (serve, migrate, demo);
`directory.py` administers the network (countries, agencies, tokens, principals, admin);
`retention.py` purges the requests whose retention has ended; `audit.py` verifies the audit
trail's hash chain.
"""

from __future__ import annotations

from app.alerts import cli as contacts
from app.analytics import cli as analytics
from app.audit import cli as audit
from app.cli import runtime
from app.cli.app import cli
from app.directory import cli as directory
from app.reports import cli as report
from app.retention import cli as retention
from app.webhooks import cli as webhooks

__all__ = [
    "analytics",
    "audit",
    "cli",
    "contacts",
    "directory",
    "main",
    "report",
    "retention",
    "runtime",
    "webhooks",
]


def main() -> None:
    cli()
