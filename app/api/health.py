"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api import problems
from app.api.deps import get_database
from app.core.database import Database
from app.core.supervisor import Supervisor

router = APIRouter(tags=["health"])
_DATABASE_CHECK_TIMEOUT = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=problems.responses(503))
async def readyz(
    request: Request, database: Annotated[Database, Depends(get_database)]
) -> dict[str, Any] | JSONResponse:
    """This instance can take traffic: the database answers and every background loop
    (delivery, wake-ups, token watch) is up and making progress."""
    supervisor: Supervisor = request.app.state.supervisor
    failing = [f"loop {name}: {problem}" for name, problem in supervisor.problems().items()]
    try:
        async with asyncio.timeout(_DATABASE_CHECK_TIMEOUT):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:
        failing.append(f"the database is unavailable ({type(exc).__name__})")
    now = time.monotonic()
    loops = {name: health.as_json(now) for name, health in supervisor.health.items()}
    # Queued by route, in flight, how late the most overdue is: an operator's first look.
    outbox = request.app.state.outbox.snapshot()
    if failing:
        return problems.problem(
            503,
            "Not ready",
            "; ".join(failing),
            slug="not-ready",
            loops=loops,
            outbox=outbox,
        )
    return {"status": "ok", "loops": loops, "outbox": outbox}
