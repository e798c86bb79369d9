"""How the service is served: every uvicorn option in one place, so `relay247 serve` and the
test harness run the application the same way."""

from __future__ import annotations

from typing import Any

from app.observability.logs import logging_config
from app.settings import ApiSettings, LogSettings, RealtimeSettings


def uvicorn_options(
    *,
    api: ApiSettings,
    realtime: RealtimeSettings,
    logs: LogSettings | None = None,
    log_level: str = "info",
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config``, but for the application,
    host, port and workers. Without ``logs``, uvicorn's own logging set-up is kept (tests)."""
    trusted_proxies = [str(network) for network in api.trusted_proxies]
    return {
        "ws": "websockets-sansio",
        "ws_max_size": 64 * 1024,
        # Frames are small JSON; deflating each one again for every socket costs more CPU
        # than the bytes it saves on a desk's link.
        "ws_per_message_deflate": False,
        "ws_ping_interval": realtime.ws_ping_interval.total_seconds(),
        "ws_ping_timeout": realtime.ws_ping_timeout.total_seconds(),
        # X-Forwarded-For is believed only from the proxies the operator named: from anyone
        # else it would let a client write any address it likes into the audit trail. An
        # explicit list also keeps uvicorn from reading FORWARDED_ALLOW_IPS behind our back.
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": trusted_proxies,
        # A startup failure (schema out of date, database unreachable) stops the server
        # rather than leaving it up without its database.
        "lifespan": "on",
        # On SIGTERM uvicorn stops accepting, closes every socket with 1012 (reconnect and
        # resume elsewhere) and waits this long for HTTP calls in flight before ending them.
        "timeout_graceful_shutdown": api.shutdown_grace.total_seconds(),
        **(
            {"log_config": logging_config(logs), "log_level": logs.level}
            if logs is not None
            else {"log_level": log_level}
        ),
    }
