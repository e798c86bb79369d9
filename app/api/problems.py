"""RFC 9457 problem details for every error the API returns, and their place in the OpenAPI
document, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.database.faults import is_deadlock, is_unavailable
from app.core.errors import DomainError, ForbiddenError, NotFoundError
from app.core.observability.redaction import traceback_without_messages
from app.identity import refusals
from app.identity.auth import Actor

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


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if isinstance(exc, ForbiddenError | NotFoundError):
        await _audit_refusal(request, exc.status)
    response = problem(exc.status, exc.title, exc.detail, slug=exc.slug, **exc.extensions)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    if exc.close_connection:
        response.headers["Connection"] = "close"
    return response


async def _audit_refusal(request: Request, status: int) -> None:
    """An authenticated caller refused an object: the audit trail says who tried what
    (app/identity/refusals.py). The refusal is answered whatever becomes of the entry."""
    actor: Actor | None = getattr(request.state, "actor", None)
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if actor is None or template is None:
        return
    found = refusals.object_of(template, request.path_params)
    if found is None:
        return
    object_type, object_id = found
    trail: refusals.RefusalTrail = request.app.state.refusals
    try:
        await trail.record(
            request.app.state.database,
            actor,
            object_type=object_type,
            object_id=object_id,
            status=status,
            method=request.method,
            route=template,
        )
    except Exception as exc:
        log.warning("a refusal was not audited: %s", type(exc).__name__)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _location(tuple(error["loc"])), "message": error["msg"]} for error in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid input", summary, slug="invalid-input", errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers 400 for a JSON body that is not UTF-8 (and 422 for malformed JSON):
        # both are input the caller must fix, so both are the same documented 422.
        message = "is not JSON text in UTF-8"
        return problem(
            422,
            "Invalid input",
            f"body: {message}",
            slug="invalid-input",
            errors=[{"field": "body", "message": message}],
        )
    return problem(exc.status_code, exc.detail or "Error", str(exc.detail))


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # A unique or foreign-key constraint caught a race the service's own checks did not.
    log.warning("integrity error: %s", exc.__class__.__name__)
    return problem(
        409, "Conflict", "the change conflicts with the current state; retry", slug="conflict"
    )


def _failure(exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        # One line, not a traceback: during an outage every request lands here.
        log.warning("database unavailable, answered 503 (%s)", type(exc).__name__)
        return database_unavailable()
    if is_deadlock(exc):
        log.warning("deadlock between concurrent changes, answered 409")
        return problem(
            409,
            "Conflict",
            "the change met a concurrent one on the same records; nothing was changed, retry",
            slug="conflict",
        )
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
        except ClientDisconnect:
            # The client left before its body was read (a form, a JSON body): nothing to
            # answer, and nothing failed. The metrics record it as 499 (app/core/observability).
            log.info("client left before its request was read")
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
    _document_problems(app)


# --- the OpenAPI document -------------------------------------------------------------------


class FieldProblem(BaseModel):
    field: str = Field(examples=["identifiers[0].value"])
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details: what went wrong, for a person (title, detail) and for a
    program (type, status)."""

    model_config = ConfigDict(extra="allow")  # extension members, e.g. idempotency_key

    type: str = Field(
        description="urn:relay247:problem:<kind>, or about:blank for plain HTTP errors",
        examples=["urn:relay247:problem:invalid-input"],
    )
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What is wrong, and what to do about it")
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Invalid input (422): each field that is wrong, and why"
    )


_MEANINGS = {
    401: "No valid bearer token.",
    403: "Authenticated, but not allowed to do this: the detail says why.",
    404: "No such object, or none that you may see.",
    408: "The request body did not arrive within RELAY247_BODY_RECEIVE_TIMEOUT (an upload: a "
    "chunk of it), and nothing was done: send it again, faster.",
    409: "The change conflicts with the current state of the object or of others.",
    410: "The object is known, but what was asked for is gone: its content purged, an "
    "acknowledge link expired.",
    412: "`If-Match` names a version that is no longer current: read the object again.",
    413: "The request body is larger than the service accepts.",
    422: "Invalid input: `errors` lists each field that is wrong.",
    429: "This principal is over its rate limit (RELAY247_RATE_LIMIT): retry after `Retry-After`.",
    503: "The service is overloaded or the database is unavailable, and nothing was changed: "
    "retry after `Retry-After`.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "Seconds to wait before retrying",
    }
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problems a route gives besides those that follow from its shape, for the route's
    ``responses=``. Authentication (401, 429, 503), validation (422) and the body's bounds (408,
    413) are added to every route that has them when the document is built."""
    return {status: _problem_response(status) for status in statuses}


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _MEANINGS[status],
        # Only this media type: problems are never sent as application/json.
        "content": {MEDIA_TYPE: {"schema": _PROBLEM_REF}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def _implied_statuses(operation: dict[str, Any]) -> list[int]:
    statuses = []
    if operation.get("security"):  # the token is looked up in the database, then rate-limited
        statuses += [401, 429, 503]
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(422)
    if operation.get("requestBody"):  # a body must come in time, and not too large
        statuses += [408, 413]
    return statuses


def _with_problems(document: dict[str, Any]) -> dict[str, Any]:
    for path in document.get("paths", {}).values():
        for operation in path.values():
            answers = operation.setdefault("responses", {})
            # FastAPI's own 422 (HTTPValidationError as application/json) is not what is sent.
            if "application/json" in answers.get("422", {}).get("content", {}):
                del answers["422"]
            for status in _implied_statuses(operation):
                answers.setdefault(str(status), _problem_response(status))
            operation["responses"] = dict(sorted(answers.items()))
    # The webhooks section describes what relay247 sends to a receiver: FastAPI's 422 there
    # would be the receiver's answer, and names a schema this document no longer has.
    for hook in document.get("webhooks", {}).values():
        for operation in hook.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    return document


def _document_problems(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(generate())
        return app.openapi_schema

    # FastAPI's documented way to extend the generated document.
    app.openapi = openapi  # type: ignore[method-assign]
