"""Every metric of the service, declared in one place.

One registry per application, not prometheus_client's global default: a metric name can be
registered only once per registry, so with the global one a second ``create_app()`` in the
same process (the tests build many; so could any embedding host) would fail, and two apps
would add into each other's counts. Each app therefore owns a :class:`Metrics`, kept in
``app.state.metrics`` and served by its own ``GET /metrics``. Code that records something is
handed that object (a middleware or route reads it from the app, the hub and other long-lived
parts take it as a constructor argument); no module keeps a metric in a global.

Labels take their values from small fixed sets only: route templates, never raw paths; HTTP
methods outside the standard ones folded into ``other``; no principal, token or content ever,
so neither the series count nor the scrape output depends on what clients send.

With ``relay247 serve --workers N`` each worker process has its own registry, and a scrape
sees the worker that happened to accept it: run one worker per container (see README).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool, QueuePool

# From a cache-hot read (about a millisecond) to the pool timeout's neighbourhood.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Event commit to frame sent: a push is meant to take milliseconds, 10 s is already a failure.
PUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# Audit entry's transaction start to its seal: meant to be well under a second.
SEAL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

PoolSource = Callable[[], Pool | None]


class DatabasePoolCollector(Collector):
    """Connections of the SQLAlchemy pool, read when scraped (no bookkeeping on checkout)."""

    def __init__(self, pool: PoolSource) -> None:
        self._pool = pool

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        return self._families(self._pool())

    @staticmethod
    def _families(pool: Pool | None) -> list[Metric]:
        connections = GaugeMetricFamily(
            "relay247_db_pool_connections",
            "Database connections of this process by state: checked_out (in a transaction "
            "now), idle (open, in the pool), overflow (open beyond the pool size).",
            labels=["state"],
        )
        size = GaugeMetricFamily(
            "relay247_db_pool_size",
            "Connections the pool keeps open (RELAY247_POOL_SIZE); up to RELAY247_MAX_OVERFLOW "
            "more are opened under load.",
        )
        if isinstance(pool, QueuePool):
            connections.add_metric(["checked_out"], pool.checkedout())
            connections.add_metric(["idle"], pool.checkedin())
            # overflow() counts from -size: it is positive only past the pool's size.
            connections.add_metric(["overflow"], max(pool.overflow(), 0))
            size.add_metric([], pool.size())
        return [connections, size]


class Metrics:
    """The registry of one application and every metric in it."""

    def __init__(self, *, database_pool: PoolSource) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        # The process's own health (memory, CPU, file descriptors, GC), as exporters usually show.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        registry.register(DatabasePoolCollector(database_pool))

        # HTTP
        self.http_requests = Counter(
            "relay247_http_requests_total",
            "HTTP requests answered, by method, route template ('unmatched': no route was "
            "selected, because the path is unknown or the request was refused before routing) "
            "and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_request_duration = Histogram(
            "relay247_http_request_duration_seconds",
            "Time from a request's arrival to the last byte of its response.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.http_requests_in_flight = Gauge(
            "relay247_http_requests_in_flight",
            "HTTP requests being processed now, as counted against RELAY247_MAX_IN_FLIGHT.",
            registry=registry,
        )
        self.http_requests_shed = Counter(
            "relay247_http_requests_shed_total",
            "HTTP requests refused to protect the service: overload (503, too many in flight), "
            "anonymous (503, over RELAY247_MAX_ANONYMOUS_IN_FLIGHT or its per-peer share, for "
            "callers without a working token or session), body_timeout (408, a body not "
            "received within RELAY247_BODY_RECEIVE_TIMEOUT), rate_limited (429, a principal "
            "over RELAY247_RATE_LIMIT) or exports (503, an audit export over "
            "RELAY247_MAX_EXPORTS).",
            ["reason"],
            registry=registry,
        )

        # Realtime: the WebSocket hub, sockets and background loops record these.
        self.ws_connections = Gauge(
            "relay247_ws_connections",
            "WebSockets open on this process.",
            registry=registry,
        )
        self.ws_events_sent = Counter(
            "relay247_ws_events_sent_total",
            "Event frames sent to WebSocket clients.",
            registry=registry,
        )
        self.ws_closes = Counter(
            "relay247_ws_closes_total",
            "WebSockets closed, by close code (1000 normal, 1008 policy, 4000 too slow: resume).",
            ["code"],
            registry=registry,
        )
        self.push_latency = Histogram(
            "relay247_push_latency_seconds",
            "Time from an event's commit to its frame being sent on a socket.",
            buckets=PUSH_BUCKETS,
            registry=registry,
        )
        self.ws_backlog_events = Gauge(
            "relay247_ws_backlog_events",
            "Events committed but not yet sent, summed over this process's sockets.",
            registry=registry,
        )
        # Audit chain: what this instance's sealer did.
        self.audit_entries_sealed = Counter(
            "relay247_audit_entries_sealed_total",
            "Audit entries this instance's sealer gave a chain position and hash.",
            registry=registry,
        )
        self.audit_seal_wait = Histogram(
            "relay247_audit_seal_wait_seconds",
            "Time from the start of the transaction that wrote an audit entry to its seal (an "
            "upper bound of the wait after its commit), for the entries this instance sealed.",
            buckets=SEAL_BUCKETS,
            registry=registry,
        )
        self.audit_checkpoints = Counter(
            "relay247_audit_checkpoints_total",
            "Signed checkpoints of the audit chain's head this instance wrote (table and file).",
            registry=registry,
        )
        self.audit_checkpoint_position = Gauge(
            "relay247_audit_checkpoint_position",
            "Chain position of the last checkpoint this instance signed (0: none yet).",
            registry=registry,
        )
        self.audit_exports_stalled = Counter(
            "relay247_audit_exports_stalled_total",
            "Audit exports stopped because their client took nothing for "
            "RELAY247_EXPORT_SEND_TIMEOUT: each file ends without its end line.",
            registry=registry,
        )
        self.file_downloads_stalled = Counter(
            "relay247_file_downloads_stalled_total",
            "File downloads stopped because their client took nothing for "
            "RELAY247_FILE_SEND_TIMEOUT: each connection was reset before the last byte.",
            registry=registry,
        )
        self.loop_restarts = Counter(
            "relay247_loop_restarts_total",
            "Restarts of a background loop (listener, poller, deadline worker) after a failure.",
            ["loop"],
            registry=registry,
        )
        self.loop_up = Gauge(
            "relay247_loop_up",
            "1 while a background loop runs, 0 while it is down or restarting.",
            ["loop"],
            registry=registry,
        )
        self.deadline_failures = Counter(
            "relay247_deadline_failures_total",
            "Deadlines whose firing failed on its own (not for want of the database): each is "
            "put off and tried again later, and logged at ERROR with its id.",
            registry=registry,
        )
        # Readiness drills (app/drills/worker.py).
        self.drills_sent = Counter(
            "relay247_drills_sent_total",
            "Readiness drills this instance sent to their desks.",
            registry=registry,
        )
        self.drill_failures = Counter(
            "relay247_drill_failures_total",
            "Drills whose sending failed on its own (not for want of the database): each is put "
            "off and tried again later, and logged at ERROR with its id.",
            registry=registry,
        )

        # The outbox: webhooks and alerts (app/outbox/sender.py).
        self.outbox_queued = Gauge(
            "relay247_outbox_queued",
            "Messages waiting to be sent (due now or retried later), by route; counted every "
            "few seconds.",
            ["route"],
            registry=registry,
        )
        self.outbox_oldest_due = Gauge(
            "relay247_outbox_oldest_due_seconds",
            "How long the most overdue waiting message has been due (0: none is late).",
            registry=registry,
        )
        self.outbox_in_flight = Gauge(
            "relay247_outbox_in_flight",
            "Messages this process is sending now.",
            registry=registry,
        )
        self.outbox_sent = Counter(
            "relay247_outbox_sent_total",
            "Messages the destination took, by route.",
            ["route"],
            registry=registry,
        )
        self.outbox_failed = Counter(
            "relay247_outbox_failed_total",
            "Messages given up on: every attempt of the schedule failed, or the destination is "
            "gone; by route.",
            ["route"],
            registry=registry,
        )
        self.outbox_attempts = Counter(
            "relay247_outbox_attempts_total",
            "Attempts, by route and outcome (delivered, rejected, timeout, unreachable, "
            "refused, invalid, moot).",
            ["route", "outcome"],
            registry=registry,
        )
        self.outbox_attempt_duration = Histogram(
            "relay247_outbox_attempt_duration_seconds",
            "Time one attempt took, connecting and the destination's answer included.",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.outbox_delivery_lag = Histogram(
            "relay247_outbox_delivery_lag_seconds",
            "Time from a message's commit to the destination taking it, retries included.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=registry,
        )
