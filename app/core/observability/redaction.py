"""Keep secrets and request content out of the logs.

relay247 never logs tokens or content itself, but uvicorn logs every request line and
WebSocket handshake with its query string. A query can carry content (an upload's file name
and H3 note travel there) and, from a client that wrongly puts one in a URL, a token. So every
record, whatever logger wrote it, is cleaned here:

- a query string keeps the names of the API's own parameters and loses every value
  (``?name=[redacted]&handling_code=[redacted]``); a name the API does not declare goes too;
- a token (``r247_<prefix>_<secret>``) keeps its public prefix and loses its secret, also when
  it is percent-encoded, in part or whole, once or more (``r247%5F...``);
- an alert's one-time acknowledge link (``/ack/<token>``, ``/v1/ack-links/<token>``) and a
  calendar feed (``/v1/calendar/<token>.ics``) lose their token;
- a traceback keeps exception class names and frames, never messages (see below).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from urllib.parse import quote, unquote, unquote_plus

REDACTED = "[redacted]"
_SECRET_PARAMS = re.compile(r"((?:access_)?token=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"([rR]247_[0-9a-fA-F]+_)[A-Za-z0-9_-]+")
# The path of an acknowledge link or a calendar feed: what follows is a credential
# (app/alerts/ack_links.py, app/rosters/calendar_feed.py).
_ACK_LINK = re.compile(r"(/ack(?:-links)?/|/v1/calendar/)[^\s\"'?#/]+")
# A run of URL characters: with a percent-escape in it, decoded, it may be a token. (Found as
# plain runs, each scanned once: a pattern that looked for the '%' inside would backtrack
# quadratically on a long URL without one.)
_URL_RUN = re.compile(r"[A-Za-z0-9._~%-]+")
# A query string: after a '?' that follows a path character, up to a space or a quote (uvicorn
# writes '"' in a path as %22).
_QUERY = re.compile(r"(?<=[^\s?])\?([^\s\"'#]+)")
# Decoding rounds for a doubly (or more) encoded token.
_MAX_DECODING = 4

# One process-wide list, filled when the app is built; with the names under which clients
# wrongly send tokens, so that the log shows an operator which client does.
_query_names: set[str] = {"token", "access_token"}


def allow_query_names(names: Iterable[str]) -> None:
    """Query parameter names that may appear in a log line (their values never do): the
    API's own, registered when the app is built."""
    _query_names.update(names)


def _query_without_values(match: re.Match[str]) -> str:
    parts = []
    for part in re.split(r"[&;]", match.group(1)):
        if not part:
            continue
        name = part.partition("=")[0]
        parts.append(f"{name}={REDACTED}" if unquote_plus(name) in _query_names else REDACTED)
    return "?" + "&".join(parts)


def _encoded_token(match: re.Match[str]) -> str:
    run = decoded = match.group(0)
    if "%" not in run:
        return run
    for _ in range(_MAX_DECODING):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    if not _BEARER.search(decoded):
        return run
    # Encoded again, so that what was decoded cannot break the line (a %0A, a %22).
    return quote(_BEARER.sub(rf"\1{REDACTED}", decoded), safe="[]")


def redact(text: str) -> str:
    text = _QUERY.sub(_query_without_values, text)
    text = _URL_RUN.sub(_encoded_token, text)
    text = _ACK_LINK.sub(rf"\1{REDACTED}", text)
    return _BEARER.sub(rf"\1{REDACTED}", _SECRET_PARAMS.sub(rf"\1{REDACTED}", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # A message with arguments is a template of the code's (whose '?%s' must stay as it
        # is): what came from outside is in the arguments.
        if isinstance(record.msg, str) and not record.args:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if record.exc_info and record.exc_info[1] is not None:
            # A library's traceback (uvicorn's "Exception in ASGI application") would quote
            # the exception's message: what it failed on, which may be content.
            record.exc_text = traceback_without_messages(record.exc_info[1])
            record.exc_info = None
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
