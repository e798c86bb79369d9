"""Helpers of the report tests: generate a report over REST, download its files, read its
CSV, verify files with `relay247 report verify`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.cli_runner import invoke
from tests.factories import Party
from tests.processes import environment

SPRING = {"from": "2026-03-01", "to": "2026-05-01"}
# No database answers there: `report verify` must not need one.
NO_DATABASE = environment(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")


async def generate(
    client: httpx.AsyncClient, party: Party, scope: str, **period: str
) -> dict[str, Any]:
    response = await client.post(
        "/v1/reports", json={"scope": scope, **(period or SPRING)}, headers=party.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def download(
    client: httpx.AsyncClient, party: Party, report: dict[str, Any], part: str
) -> bytes:
    response = await client.get(report["links"][part], headers=party.headers)
    assert response.status_code == 200, response.text
    return response.content


def figures(data: bytes) -> dict[tuple[str, str, str], str]:
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["section", "group", "metric", "value"]
    return {(section, group, metric): value for section, group, metric, value in rows[1:]}


async def verify(*paths: Path, key: str) -> tuple[int, str]:
    code, out, err = await invoke(
        "report", "verify", *map(str, paths), "--key", key, env=NO_DATABASE
    )
    return code, out + err


def today() -> date:
    return datetime.now(UTC).date()
