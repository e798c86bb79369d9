"""Read the service's /metrics as Prometheus would."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called ``name`` (e.g. ``relay247_http_requests_total``): labels, value."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def value(text: str, name: str, **labels: str) -> float:
    """The sample of ``name`` with exactly these labels; 0 when it was never recorded."""
    matching = [v for sample_labels, v in samples(text, name) if sample_labels == labels]
    assert len(matching) <= 1, matching
    return matching[0] if matching else 0.0
