"""The ASGI application: `create_app()` wires database, hub, notifier and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import log_redaction
from app.api import health, problems
from app.api import requests as request_routes
from app.api.body_limit import BodySizeLimit
from app.database import Database
from app.database.migrate import assert_schema_current
from app.database.urls import asyncpg_dsn
from app.realtime import websocket
from app.realtime.hub import Hub
from app.realtime.notifier import Notifier
from app.settings import api_settings, database_settings, realtime_settings


def create_app(database_url: str | None = None) -> FastAPI:
    """``database_url`` defaults to DATABASE_URL; `relay247 serve` sets it, starting the
    embedded Postgres first when the operator gave none."""
    log_redaction.install()
    db_settings = database_settings()
    rt_settings = realtime_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or db_settings.url
        if not url:
            raise RuntimeError(
                "DATABASE_URL is not set: start the service with `relay247 serve`, which "
                "runs the embedded Postgres when no DATABASE_URL is given"
            )
        database = Database(
            url,
            pool_size=db_settings.pool_size,
            max_overflow=db_settings.max_overflow,
            pool_timeout=db_settings.pool_timeout,
        )
        try:
            await assert_schema_current(database.engine)
            hub = Hub(
                database,
                asyncpg_dsn(url),
                poll_interval=rt_settings.poll_interval.total_seconds(),
                batch=rt_settings.backfill_batch,
            )
            notifier = Notifier(asyncpg_dsn(url), wake_local=hub.wake)
            hub.own_notifier_pid = lambda: notifier.backend_pid
            database.on_commit(notifier.wake)
            app.state.database = database
            app.state.hub = hub
            app.state.realtime_settings = rt_settings
            async with hub.running(), notifier.running():
                yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="relay247",
        summary="Real-time request broker of the 24/7 network of cybercrime contact points",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=api_settings().max_body_bytes)
    # Last: its last-resort middleware then wraps every other middleware too.
    problems.install(app)
    app.include_router(health.router)
    app.include_router(request_routes.router)
    app.include_router(websocket.router)
    return app
