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


def traceback_without_messages(exc: BaseException) -> str:
    """A traceback made of exception class names and frames (file, line, function) only.

    An exception's message can quote what it failed on: a unique violation's detail names the
    values, a driver error the parameters, a validation error the input. Those are request
    content or tokens, so the log gets where it failed and what kind of error, not the text.
    """
    # Newest first, each with how the next (older) one led to it.
    chain: list[tuple[BaseException, str]] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen, _ in chain):
        if current.__cause__ is not None:
            older, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            older, link = current.__context__, _CONTEXT
        else:
            older, link = None, ""
        chain.append((current, link))
        current = older
    lines: list[str] = []
    for index in range(len(chain) - 1, -1, -1):  # oldest first, as Python prints them
        error = chain[index][0]
        lines.append("Traceback (most recent call last):")
        lines += [
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
            for frame in traceback.extract_tb(error.__traceback__)
        ]
        if isinstance(error, BaseExceptionGroup):
            lines.append(f"  grouping: {', '.join(_name(e) for e in error.exceptions)}")
        lines.append(_name(error))
        if index > 0:
            lines += ["", chain[index - 1][1], ""]
    return "\n".join(lines)


_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def _name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"
