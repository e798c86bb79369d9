"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api import problems
from app.api.deps import get_database
from app.database import Database

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=problems.responses(503))
async def readyz(
    database: Annotated[Database, Depends(get_database)],
) -> dict[str, str] | JSONResponse:
    """The database answers: this instance can take traffic."""
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # whatever the reason, this instance cannot serve: take it out
        return problems.database_unavailable()
    return {"status": "ok"}
