"""The ASGI application: `create_app()` wires database, hub, notifier and routers."""

from __future__ import annotations

import functools
import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool
from starlette.types import ASGIApp

from app import __version__
from app.alerts import email as email_alerts
from app.alerts import gateway as gateway_alerts
from app.alerts.vapid import Vapid
from app.alerts.web_push import WebPushCourier
from app.analytics.metrics import OutcomeMetrics
from app.api import ack_links as ack_link_routes
from app.api import (
    agencies,
    agreements,
    approvals,
    countries,
    escalation,
    health,
    me,
    principals,
    problems,
    push,
    tokens,
)
from app.api import analytics as analytics_routes
from app.api import audit as audit_routes
from app.api import audit_export as audit_export_routes
from app.api import calendar_feed as calendar_feed_routes
from app.api import contact_methods as contact_method_routes
from app.api import docs as api_docs
from app.api import drills as drill_routes
from app.api import examples as api_examples
from app.api import files as file_routes
from app.api import matches as match_routes
from app.api import messages as message_routes
from app.api import metrics as metrics_route
from app.api import partner_agreements as partner_agreement_routes
from app.api import reports as report_routes
from app.api import requests as request_routes
from app.api import retention as retention_routes
from app.api import rosters as roster_routes
from app.api import shared_data as shared_data_routes
from app.api import shares as share_routes
from app.api import taxii as taxii_routes
from app.api import triage as triage_routes
from app.api import webhook_endpoints as webhook_routes
from app.api.admission import Admission, AdmissionLimits
from app.api.body_limit import BodySizeLimit
from app.api.rate_limit import PrincipalRateLimit
from app.audit import SEAL_SIGNAL
from app.audit.checkpoints import Checkpoint, Checkpointer
from app.audit.keys import KeyHolder
from app.audit.sealer import Sealed, Sealer
from app.core.database import Database
from app.core.database.migrate import assert_schema_current
from app.core.database.session import create_engine
from app.core.database.urls import asyncpg_dsn
from app.core.observability import redaction as log_redaction
from app.core.observability.http_metrics import HttpMetrics
from app.core.observability.metrics import Metrics
from app.core.observability.request_id import RequestId
from app.core.service_secret import ServiceSecret
from app.core.serving import ConnectionAbort
from app.core.settings import (
    ApiSettings,
    ExchangeSettings,
    RealtimeSettings,
    Settings,
    SharingSettings,
)
from app.core.supervisor import LoopHealth, Supervisor
from app.deadlines.rows import WAKE_CHANNEL as DEADLINES_WAKE_CHANNEL
from app.deadlines.worker import DeadlineWorker
from app.drills.scheduling import WAKE_CHANNEL as DRILLS_WAKE_CHANNEL
from app.drills.worker import DrillWorker
from app.exchange.files.storage import blob_store
from app.identity.refusals import RefusalTrail
from app.identity.token_usage import TokenUsage
from app.matching import sweeper as match_sweeper
from app.models.outbox import Route
from app.outbound.http import OutboundHttp
from app.outbox import SIGNAL as OUTBOX_SIGNAL
from app.outbox.couriers import Courier
from app.outbox.sender import Sender
from app.realtime import websocket
from app.realtime.hub import Hub
from app.realtime.notifier import Notifier
from app.realtime.registry import SocketRegistry
from app.reports.worker import ReportWorker
from app.retention import job as purge_job
from app.web import analytics_page, reports_page
from app.web import pages as web_pages
from app.web.security import WebSecurityHeaders
from app.webhooks.courier import WebhookCourier

log = logging.getLogger(__name__)
# Routes that read their body themselves, against limits of their own: evidence uploads, TAXII
# POSTs and MISP events (app/api/body_limit.py lets them through).
_STREAMED_BODY = re.compile(
    "|".join(
        pattern.pattern
        for pattern in (
            file_routes.STREAMED_BODY,
            taxii_routes.STREAMED_BODY,
            share_routes.STREAMED_BODY,
        )
    )
)
# How often sockets are checked for a send stuck past RELAY247_WS_SEND_TIMEOUT.
_STALL_SWEEP_SECONDS = 0.5


def _supervise(
    hub: Hub,
    notifier: Notifier,
    sockets: SocketRegistry,
    reads: AsyncEngine,
    settings: RealtimeSettings,
    usage: TokenUsage,
    database: Database,
    api: ApiSettings,
    exchange: ExchangeSettings,
    deadlines: DeadlineWorker,
    drills: DrillWorker,
    sealer: Sealer | None,
    checkpointer: Checkpointer,
    sender: Sender | None,
    sharing: SharingSettings,
) -> Supervisor:
    """Every background loop of an instance, each with the time after which silence means
    it is stuck."""
    poll = settings.poll_interval.total_seconds()
    token_check = settings.token_check_interval.total_seconds()
    usage_flush = api.token_usage_flush_interval.total_seconds()
    purge = exchange.purge_interval.total_seconds()
    supervisor = Supervisor()
    supervisor.add("hub.dispatch", hub.dispatch, stall_after=4 * poll + 10)
    supervisor.add("hub.listen", hub.listen, stall_after=hub.listener_stall_bound())
    # The notifier only works when there is something to send; a hung send fails it.
    supervisor.add("notifier", notifier.run, stall_after=None)
    supervisor.add(
        "sockets.token_watch",
        functools.partial(sockets.watch_tokens, engine=reads, interval=token_check),
        stall_after=4 * token_check + 10,
    )
    supervisor.add(
        "sockets.stall_watch",
        functools.partial(sockets.watch_stalls, interval=_STALL_SWEEP_SECONDS),
        stall_after=10,
    )
    supervisor.add(
        "tokens.usage_flush",
        functools.partial(
            usage.run,
            engine=database.engine,
            interval=usage_flush,
            in_use=lambda: {socket.actor.token_id for socket in sockets},
        ),
        stall_after=4 * usage_flush + 10,
    )
    # A round beats after each batch; a batch of a hundred requests with their files may
    # take a while on a loaded database, hence the extra ten minutes.
    supervisor.add(
        "retention.purge",
        functools.partial(
            purge_job.run,
            database=database,
            store=blob_store(database),
            interval=purge,
            idempotency_lifetime=api.idempotency_key_lifetime,
        ),
        stall_after=2 * purge + 600,
    )
    supervisor.add("deadlines.worker", deadlines.run, stall_after=deadlines.stall_bound())
    supervisor.add("drills.worker", drills.run, stall_after=drills.stall_bound())
    # RELAY247_AUDIT_SEALER off: no loop, so /readyz and /metrics list no audit.sealer.
    if sealer is not None:
        supervisor.add("audit.sealer", sealer.run, stall_after=sealer.stall_bound())
    supervisor.add("audit.checkpointer", checkpointer.run, stall_after=checkpointer.stall_bound())
    if sender is not None:
        supervisor.add("outbox.sender", sender.run, stall_after=sender.stall_bound())
    sweep = sharing.match_sweep_interval.total_seconds()
    supervisor.add(
        "matching.sweep",
        functools.partial(match_sweeper.run, database=database, interval=sweep),
        stall_after=4 * sweep + 60,
    )
    return supervisor


def _couriers(
    settings: Settings, secret: ServiceSecret, http: OutboundHttp
) -> dict[Route, Courier]:
    """How each route's messages leave: the couriers of app/webhooks/ and app/alerts/."""
    couriers: dict[Route, Courier] = {}
    couriers[Route.WEBHOOK] = WebhookCourier(settings.outbox, secret, http)
    couriers.update(email_alerts.couriers(settings.outbox, secret))
    couriers.update(gateway_alerts.couriers(settings.outbox, secret, http))
    couriers[Route.WEB_PUSH] = WebPushCourier(settings.outbox, secret, http)
    return couriers


async def _final_usage_flush(usage: TokenUsage, engine: AsyncEngine) -> None:
    """The uses noted since the last flush, written on the way out; a database that is gone
    by then costs only that much accuracy of last_used_at."""
    try:
        await usage.flush(engine)
    except Exception as exc:
        log.warning("last token uses not written at shutdown (%s)", type(exc).__name__)


class _Relay247(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's last-resort error handler (which app.add_middleware cannot
        # reach), so that even the 500 for an unexpected exception carries its X-Request-Id
        # and is counted, and every other layer logs with the request id already set.
        # ConnectionAbort outermost, where uvicorn's own send still arrives.
        metrics: Metrics = self.state.metrics
        return ConnectionAbort(RequestId(HttpMetrics(super().build_middleware_stack(), metrics)))

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            api_examples.add_to(super().openapi())
        return super().openapi()


def _count_sealed(metrics: Metrics, sealed: Sealed) -> None:
    metrics.audit_entries_sealed.inc(sealed.count)
    for wait in sealed.waits:
        metrics.audit_seal_wait.observe(wait)


def _count_checkpoint(metrics: Metrics, checkpoint: Checkpoint) -> None:
    metrics.audit_checkpoints.inc()
    metrics.audit_checkpoint_position.set(checkpoint.position)


def _up(loop: LoopHealth) -> float:
    return 1.0 if loop.is_up() else 0.0


def _observe(metrics: Metrics, sockets: SocketRegistry, supervisor: Supervisor) -> None:
    """Gauges read when scraped, and the supervisor's restarts counted."""
    metrics.ws_connections.set_function(lambda: len(sockets))
    metrics.ws_backlog_events.set_function(sockets.backlog)
    for name, loop in supervisor.health.items():
        metrics.loop_up.labels(name).set_function(functools.partial(_up, loop))
    supervisor.on_restart(lambda name: metrics.loop_restarts.labels(name).inc())


def create_app(database_url: str | None = None, settings: Settings | None = None) -> FastAPI:
    """``database_url`` defaults to DATABASE_URL; `relay247 serve` sets it, starting the
    embedded Postgres first when the operator gave none. ``settings`` default to the
    environment's; the routes and workers get theirs from here (``app.state.settings``)."""
    log_redaction.install()
    settings = settings or Settings.from_environment()
    db_settings = settings.database
    rt_settings = settings.realtime
    overload = settings.overload
    api = settings.api
    exchange = settings.exchange
    audit = settings.audit

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
        # Delivery reads may queue behind each other (a resume storm): let them wait longer
        # than a REST call would.
        reads = create_engine(
            url, pool_size=rt_settings.realtime_pool_size, max_overflow=0, pool_timeout=30
        )
        # The sealer's own connection: from the request pool, its rounds queued behind the
        # requests in flight and the bound on sealing slipped past 1 s under intake (bench
        # `audit`); one connection suffices, rounds run one at a time.
        sealing = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=30)
        try:
            await assert_schema_current(database.engine)
            hub = Hub(
                reads,
                asyncpg_dsn(url),
                poll_interval=rt_settings.poll_interval.total_seconds(),
                batch=rt_settings.backfill_batch,
                replay_capacity=rt_settings.ws_replay_buffer,
            )
            notifier = Notifier(asyncpg_dsn(url), wake_local=hub.wake)
            hub.own_notifier_pid = lambda: notifier.backend_pid
            database.on_commit(notifier.wake)
            sockets = SocketRegistry()
            usage = TokenUsage()
            deadlines = DeadlineWorker(
                database,
                poll_interval=exchange.deadline_poll_interval.total_seconds(),
                concurrency=exchange.deadline_concurrency,
                on_failure=app.state.metrics.deadline_failures.inc,
            )
            hub.on_signal(DEADLINES_WAKE_CHANNEL, deadlines.wake)
            drills = DrillWorker(
                database,
                exchange,
                on_sent=app.state.metrics.drills_sent.inc,
                on_failure=app.state.metrics.drill_failures.inc,
            )
            hub.on_signal(DRILLS_WAKE_CHANNEL, drills.wake)
            sealer = None
            if audit.audit_sealer:
                sealer = Sealer(
                    sealing,
                    interval=audit.audit_seal_interval.total_seconds(),
                    on_sealed=functools.partial(_count_sealed, app.state.metrics),
                )
                # Woken by this instance's own commits; others' entries are found by its look
                # every interval (or sealed by their own instance's sealer).
                database.on_signal(SEAL_SIGNAL, sealer.wake)
            # One key per process, read on first use, for checkpoints and receipts alike.
            signing_keys = KeyHolder(audit.signing_key_path(db_settings))
            app.state.signing_keys = signing_keys
            checkpointer = Checkpointer(
                database,
                keys=signing_keys,
                checkpoint_file=audit.checkpoint_path(db_settings),
                interval=audit.audit_checkpoint_interval.total_seconds(),
                on_checkpoint=functools.partial(_count_checkpoint, app.state.metrics),
            )
            service_secret = ServiceSecret(settings.outbox.secret_key_path(db_settings))
            app.state.service_secret = service_secret
            app.state.vapid = Vapid(service_secret)
            outbound = OutboundHttp(settings.outbox)
            app.state.outbound = outbound
            sender = Sender(
                database,
                _couriers(settings, service_secret, outbound),
                settings.outbox,
                app.state.metrics,
            )
            database.on_signal(OUTBOX_SIGNAL, sender.wake)
            app.state.outbox = sender
            # RELAY247_OUTBOX_SENDER off: no loop; messages wait for the other instances.
            sending = sender if settings.outbox.outbox_sender else None
            supervisor = _supervise(
                hub,
                notifier,
                sockets,
                reads,
                rt_settings,
                usage,
                database,
                api,
                exchange,
                deadlines,
                drills,
                sealer,
                checkpointer,
                sending,
                settings.sharing,
            )
            outcome_metrics: OutcomeMetrics = app.state.outcome_metrics
            outcome_metrics.attach(
                database, interval=exchange.analytics_metrics_interval.total_seconds()
            )
            supervisor.add(
                "analytics.metrics", outcome_metrics.run, stall_after=outcome_metrics.stall_bound()
            )
            reports = ReportWorker(
                database, signing_keys, interval=exchange.reports_interval.total_seconds()
            )
            supervisor.add("reports.worker", reports.run, stall_after=reports.stall_bound())
            _observe(app.state.metrics, sockets, supervisor)
            app.state.database = database
            app.state.hub = hub
            app.state.sockets = sockets
            app.state.supervisor = supervisor
            app.state.realtime_settings = rt_settings
            app.state.token_usage = usage
            async with supervisor.running():
                # What start-up built (modules, routes, the pool) lives as long as the process:
                # frozen out of the cyclic collector's view, so a collection triggered by a
                # request's allocations (a bundle's ten thousand objects) scans only what is
                # young instead of all of it (bench shared_intake).
                gc.collect()
                gc.freeze()
                yield
            await _final_usage_flush(usage, database.engine)
            await outbound.close()
        finally:
            await database.dispose()
            await reads.dispose()
            await sealing.dispose()

    app = _Relay247(
        title="relay247",
        summary="Real-time request broker of the 24/7 network of cybercrime contact points",
        description=api_examples.DESCRIPTION,
        version=__version__,
        lifespan=lifespan,
        # Served by app/api/docs.py, with their assets: FastAPI's own pages load a CDN's.
        docs_url=None,
        redoc_url=None,
    )
    metrics = Metrics(database_pool=lambda: _pool_of(app))
    app.state.metrics = metrics
    # The final requests' response figures, counted by a loop the lifespan starts.
    app.state.outcome_metrics = OutcomeMetrics()
    metrics.registry.register(app.state.outcome_metrics)
    app.state.settings = settings
    app.state.max_in_flight = overload.in_flight_limit(db_settings)
    app.state.admission = AdmissionLimits(
        max_anonymous=overload.anonymous_limit(db_settings),
        max_anonymous_per_peer=overload.max_anonymous_in_flight_per_peer,
        max_per_principal=overload.principal_limit(db_settings),
        body_timeout=api.body_receive_timeout.total_seconds(),
    )
    app.state.file_send_timeout = exchange.file_send_timeout.total_seconds()
    app.state.export_limits = audit_export_routes.ExportLimits(
        max_running=audit.max_exports, send_timeout=audit.export_send_timeout.total_seconds()
    )
    app.state.refusals = RefusalTrail(api.refusal_audit_limit)
    app.state.rate_limit = (
        PrincipalRateLimit(overload.rate_limit, metrics) if overload.rate_limit else None
    )
    # Middlewares run in the reverse order of adding: the last-resort problem handler wraps
    # them all, then admission authenticates and refuses the excess before any body is read.
    app.add_middleware(BodySizeLimit, max_bytes=api.max_body_bytes, streamed=_STREAMED_BODY)
    app.add_middleware(
        Admission,
        metrics=metrics,
        streamed=_STREAMED_BODY,
        static=(f"{web_pages.STATIC}/", web_pages.SERVICE_WORKER, *api_docs.STATIC_PREFIXES),
    )
    app.add_middleware(WebSecurityHeaders)
    problems.install(app)
    # Outside the last-resort handler that problems.install adds: its 500 too is re-said.
    app.add_middleware(taxii_routes.TaxiiErrors)
    app.include_router(health.router)
    app.include_router(metrics_route.router)
    app.include_router(request_routes.router)
    app.include_router(drill_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(report_routes.router)
    app.include_router(message_routes.router)
    app.include_router(retention_routes.router)
    app.include_router(file_routes.router)
    app.include_router(match_routes.router)
    app.include_router(me.router)
    app.include_router(push.router)
    app.include_router(agencies.router)
    app.include_router(principals.router)
    app.include_router(tokens.router)
    app.include_router(countries.router)
    app.include_router(escalation.router)
    app.include_router(agreements.router)
    app.include_router(approvals.router)
    app.include_router(partner_agreement_routes.router)
    app.include_router(triage_routes.router)
    app.include_router(shared_data_routes.router)
    app.include_router(roster_routes.router)
    app.include_router(calendar_feed_routes.router)
    webhook_routes.install(app)
    app.include_router(audit_routes.router)
    app.include_router(audit_export_routes.router)
    app.include_router(websocket.router)
    app.include_router(ack_link_routes.router)
    app.include_router(share_routes.router)
    app.include_router(taxii_routes.router)
    app.include_router(contact_method_routes.router)
    app.include_router(ack_link_routes.pages)
    # Before the pages' own router, whose /web/{section} would take /web/analytics.
    app.include_router(analytics_page.router)
    app.include_router(reports_page.router)
    web_pages.install(app)
    api_docs.install(app)
    log_redaction.allow_query_names(_query_names(app))
    return app


# Read once per process: every app of a process has the same routes (the routers are
# module-level), and building the document costs half a second, which the tests, building an
# app per test, would pay each time.
_documented_query_names: set[str] = set()


def _query_names(app: FastAPI) -> set[str]:
    """The query parameters the API documents: the names an access log line may show."""
    if not _documented_query_names:
        _documented_query_names.update(
            parameter["name"]
            for operations in app.openapi().get("paths", {}).values()
            for operation in operations.values()
            for parameter in operation.get("parameters", [])
            if parameter.get("in") == "query"
        )
    return _documented_query_names


def _pool_of(app: FastAPI) -> Pool | None:
    """The database pool, once the lifespan has opened it: read at each scrape."""
    database: Database | None = getattr(app.state, "database", None)
    return database.engine.pool if database else None
