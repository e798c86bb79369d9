"""RFC 9457 problem details for every error the API returns, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import DomainError

MEDIA_TYPE = "application/problem+json"
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
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _location(loc: tuple[int | str, ...]) -> str:
    # ("body", "identifiers", 0, "value") -> "identifiers[0].value"
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "header", "path") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or str(loc[0] if loc else "body")


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    response = problem(exc.status, exc.title, exc.detail, slug=exc.slug, **exc.extensions)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


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


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "Internal error", "the service failed; nothing was changed")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected_error)
