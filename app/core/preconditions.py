"""Optimistic concurrency: an object's version as an entity tag, and the ``If-Match`` check.

A caller that read version 3 sends ``If-Match: "3"`` with its change; if someone changed the
object meanwhile the change is refused with a 412 instead of silently overwriting theirs.
"""

from __future__ import annotations

import re

from app.core.errors import InvalidInputError, PreconditionFailedError

# RFC 9110 entity-tag: optionally weak, a quoted string of visible characters but the quote.
_ENTITY_TAG = re.compile(r'(W/)?"[\x21\x23-\x7e]*"')


def etag(version: int, *, prefix: str = "") -> str:
    return f'"{prefix}{version}"'


def require_current(if_match: str | None, current: str) -> None:
    """Pass when there is no ``If-Match``, when it is ``*`` or when it lists ``current``
    (strong comparison: a weak tag never matches)."""
    if if_match is None:
        return
    tags = [tag.strip() for tag in if_match.split(",")]
    if tags == ["*"]:
        return
    if not all(_ENTITY_TAG.fullmatch(tag) for tag in tags):
        raise InvalidInputError(
            f"If-Match: expected the quoted version from the ETag, as in If-Match: {current}"
        )
    if current not in tags:
        raise PreconditionFailedError(
            f"If-Match: {if_match[:100]} is not the current version, {current}: someone changed "
            "it since you read it; read it again and redo your change",
            current_etag=current,
        )
