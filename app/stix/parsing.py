"""Request bodies to JSON, refusing what the rest of the pipeline cannot take."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from app.stix.errors import BundleError

# A STIX bundle nests a handful of levels (bundle, object, extension, dictionary, list);
# 64 leaves room for any real content and stops hostile nesting long before it costs.
MAX_DEPTH = 64

# How a NUL is written in JSON text. A raw NUL byte inside a string is invalid JSON already
# (control characters must be escaped), which orjson refuses.
_ESCAPED_NUL = b"\\u0000"


def load_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``body`` as strict JSON (RFC 8259), raising BundleError for:

    - invalid UTF-8, lone surrogates, NaN/Infinity and numbers that overflow to infinity
      (orjson refuses all of them);
    - nesting deeper than ``max_depth`` (arrays and objects), checked without recursion (and
      orjson stops at 1,024 levels), so 10,000 levels are a clear error, not a
      RecursionError;
    - a NUL character in any string or key: Postgres' jsonb and text cannot store it.

    Duplicate keys are accepted, the last one winning, as in orjson, Python's json and
    Postgres' jsonb: the body is parsed once here, and everything after (validation,
    matching, storage) reads that one parsed value, so no two readers can disagree on which
    duplicate counts.
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):  # orjson's own limit, at 1,024 levels
            raise BundleError(_too_deep(max_depth)) from None
        raise BundleError(f"The body is not valid JSON: {error}") from None
    _check(value, max_depth, nul_possible=_ESCAPED_NUL in body)
    return value


def _too_deep(max_depth: int) -> str:
    return f"The body nests arrays and objects deeper than {max_depth} levels"


def _check(value: Any, max_depth: int, *, nul_possible: bool) -> None:
    # Iterative, containers only: strings are looked at only when the body holds an escaped
    # NUL at all (the byte search above is far cheaper than visiting every string).
    stack: list[tuple[Any, int]] = [(value, 1)]
    if nul_possible and type(value) is str and "\x00" in value:
        raise BundleError("The body holds a NUL character (\\u0000), which cannot be stored")
    children: Iterable[Any]
    while stack:
        container, depth = stack.pop()
        if type(container) is dict:
            if nul_possible and any("\x00" in key for key in container):
                raise BundleError("A key holds a NUL character (\\u0000), which cannot be stored")
            children = container.values()
        elif type(container) is list:
            children = container
        else:
            continue
        if depth > max_depth:
            raise BundleError(_too_deep(max_depth))
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif nul_possible and kind is str and "\x00" in child:
                raise BundleError(
                    "A string holds a NUL character (\\u0000), which cannot be stored"
                )
