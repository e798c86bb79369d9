"""One POST /v1/requests, timed, shared by the latency and intake tests."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from bench.workload import Credentials, request_body, route


@dataclass(frozen=True, slots=True)
class Submitted:
    target: str
    due: float  # when the schedule wanted the POST sent
    sent: float  # perf_counter() just before the POST was sent
    answered: float  # ... when its response (or its failure) came back
    outcome: str  # the HTTP status, or the exception's name when there was no answer
    request_id: str | None  # set when the request was accepted (201)
    retry_after: str | None = None  # the Retry-After header, when the service sent one


def http_client(base_url: str, connections: int) -> httpx.AsyncClient:
    """The client every POST goes through: up to ``connections`` kept open to the server."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=30.0,
        trust_env=False,
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            # Below uvicorn's keep-alive timeout (5 s): a connection the server is closing
            # is never reused, which would fail a POST with no fault of relay247.
            keepalive_expiry=2.0,
        ),
    )


async def submit(
    client: httpx.AsyncClient, credentials: Credentials, index: int, due: float
) -> Submitted:
    """POST request ``index`` of the rotation from its source country's unit token."""
    source, target = route(index, credentials.countries)
    headers = {"Authorization": f"Bearer {credentials.units[source]}"}
    body = request_body(target, index)
    sent = time.perf_counter()
    try:
        response = await client.post("/v1/requests", json=body, headers=headers)
    except httpx.HTTPError as exc:
        return Submitted(target, due, sent, time.perf_counter(), type(exc).__name__, None)
    answered = time.perf_counter()
    request_id = response.json()["id"] if response.status_code == 201 else None
    return Submitted(
        target,
        due,
        sent,
        answered,
        str(response.status_code),
        request_id,
        response.headers.get("retry-after"),
    )


def outcomes(submitted: Iterable[Submitted]) -> dict[str, int]:
    """How many POSTs ended how: {"201": 1998, "ReadError": 2}."""
    return dict(Counter(s.outcome for s in submitted))
