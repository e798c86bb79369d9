"""RFC 9457 problem details for every error the API returns, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.database.faults import is_unavailable
from app.errors import DomainError
from app.log_redaction import traceback_without_messages

MEDIA_TYPE = "application/problem+json"
# Long enough for a restarted or failed-over Postgres to take sessions again, short enough
# that a desk's case system does not sit idle during an emergency.
RETRY_AFTER_SECONDS = 5
log = logging.getLogger(__name__)


def problem(
    status: int, title: str, detail: str, *, slug: str | None = None, **extensions: Any
) -> JSONResponse:
    body = {
        "type": f"urn:relay247:problem:{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }
    headers = {
        401: {"WWW-Authenticate": "Bearer"},
        503: {"Retry-After": str(RETRY_AFTER_SECONDS)},
    }.get(status)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def database_unavailable() -> JSONResponse:
    return problem(
        503,
        "Service unavailable",
        f"the database is unavailable; nothing was changed, retry in {RETRY_AFTER_SECONDS} s",
        slug="database-unavailable",
    )


def _location(loc: tuple[int | str, ...]) -> str:
    # ("body", "identifiers", 0, "value") -> "identifiers[0].value"
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "header", "path") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or str(loc[0] if loc else "body")


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(exc.status, exc.title, exc.detail, slug=exc.slug, **exc.extensions)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _location(tuple(error["loc"])), "message": error["msg"]} for error in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid input", summary, slug="invalid-input", errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, exc.detail or "Error", str(exc.detail))


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # A unique or foreign-key constraint caught a race the service's own checks did not.
    log.warning("integrity error: %s", exc.__class__.__name__)
    return problem(
        409, "Conflict", "the change conflicts with the current state; retry", slug="conflict"
    )


def _failure(exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        log.warning("database unavailable, answered 503\n%s", traceback_without_messages(exc))
        return database_unavailable()
    log.error("unhandled error, answered 500\n%s", traceback_without_messages(exc))
    return problem(500, "Internal error", "the service failed; nothing was changed")


class _LastResort:
    """Whatever no handler took becomes a problem here: 503 when the database is unavailable,
    else 500, logged without exception messages.

    Not an exception handler for ``Exception``: Starlette runs that one in its outermost
    middleware, which then re-raises the error to uvicorn, and uvicorn logs it with its message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for a problem: the client sees the connection end
                log.error("failed while responding\n%s", traceback_without_messages(exc))
                return
            await _failure(exc)(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_middleware(_LastResort)
