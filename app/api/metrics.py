"""GET /metrics: the Prometheus scrape endpoint.

Unauthenticated, like /healthz: expose it to the monitoring network only (scrape it on the
instance's address, do not route /metrics through the public load balancer). It shows counts
and timings by route template, never a token, a principal or any request content.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder

from app.core.observability.metrics import Metrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    app_metrics: Metrics = request.app.state.metrics
    # Prometheus asks for OpenMetrics when it can; anything else gets the text format.
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(app_metrics.registry), media_type=content_type)
