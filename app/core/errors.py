"""Domain errors. Each carries its HTTP status and a message that says what is wrong;
app/api/problems.py renders them all as RFC 9457 problem details."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    # Seconds after which a retry may succeed; rendered as the Retry-After header.
    retry_after: int | None = None
    # Close the connection after the answer: the client is still sending a body not read.
    close_connection: ClassVar[bool] = False

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInputError(DomainError):
    """``field`` names the input that is wrong: the detail then starts with it, and the problem
    lists it under ``errors`` as a schema validation error would, so a client reads both kinds
    of 422 the same way."""

    status = 422
    slug = "invalid-input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, **extensions: Any) -> None:
        if field is not None:
            extensions.setdefault("errors", [{"field": field, "message": detail}])
            detail = f"{field}: {detail}"
        super().__init__(detail, **extensions)


class UnauthenticatedError(DomainError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class ForbiddenError(DomainError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"


class NotFoundError(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class ConflictError(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class GoneError(DomainError):
    """The object existed and is known, but what was asked for is no longer kept (a purged
    file's bytes)."""

    status = 410
    slug = "gone"
    title = "Gone"


class UnavailableError(DomainError):
    """The service cannot do this now for a reason of its own, not the caller's (e.g. its
    signing key was retired on another instance and this one's key file not replaced yet)."""

    status = 503
    slug = "unavailable"
    title = "Service unavailable"
    # A 503 always says when to come back (RFC 9110 15.6.4), as the database's do.
    retry_after = 5


class BodyTooLargeError(DomainError):
    """A body refused for its size while a route streams it in: the rest is not read, and the
    connection is closed rather than drained."""

    status = 413
    slug = "body-too-large"
    title = "Request body too large"
    close_connection = True


class PreconditionFailedError(DomainError):
    """An ``If-Match`` that names a version other than the current one: someone changed the
    object since the caller read it."""

    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class RateLimitedError(DomainError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.retry_after = retry_after
