"""Keep secrets out of the logs.

relay247 never logs tokens itself, but uvicorn logs every request line and WebSocket
handshake with its query string, so a client that wrongly puts a token in a URL (which the
service refuses) would still leave it in the access log.
"""

from __future__ import annotations

import logging
import re
import traceback

_SECRET_PARAMS = re.compile(r"((?:access_)?token=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(r247_[0-9a-f]+_)[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", _SECRET_PARAMS.sub(r"\1[redacted]", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def describe_exception(exc: BaseException) -> str:
    """A traceback of class names and frames only. Exception messages are left out: a
    database error can quote the values of the statement that failed (request content)."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"{type(current).__module__}.{type(current).__qualname__}")
        for frame in traceback.extract_tb(current.__traceback__):
            lines.append(f"  {frame.filename}:{frame.lineno} in {frame.name}")
        current = current.__cause__ or current.__context__
        if current is not None:
            lines.append("caused by / while handling:")
    return "\n".join(lines)
