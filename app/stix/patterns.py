"""STIX patterning: the equality comparisons of an indicator's pattern.

Most indicators carry the simplest patterns (``[ipv4-addr:value = '203.0.113.7']``, an OR
or AND of such); a regex reads those exactly. Anything else goes to stix2-patterns' ANTLR
parser, some 50 times slower.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from stix2patterns.v21.pattern import Pattern

# The object paths the simple form knows, each with what its value must look like to pass
# stix2-patterns' own checks (it checks hash values of the hash names it knows).
_ANY = re.compile(r".*", re.S)
SIMPLE_PATHS: dict[str, re.Pattern[str]] = {
    "ipv4-addr:value": _ANY,
    "ipv6-addr:value": _ANY,
    "domain-name:value": _ANY,
    "url:value": _ANY,
    "email-addr:value": _ANY,
    "email-message:from_ref.value": _ANY,
    "network-traffic:dst_ref.value": _ANY,
    "network-traffic:src_ref.value": _ANY,
    "network-traffic:dst_ref.type": _ANY,
    "network-traffic:src_ref.type": _ANY,
    "user-account:account_login": _ANY,
    "user-account:user_id": _ANY,
    "file:name": _ANY,
    "file:hashes.MD5": re.compile(r"[0-9a-fA-F]{32}"),
    "file:hashes.'SHA-1'": re.compile(r"[0-9a-fA-F]{40}"),
    "file:hashes.'SHA-256'": re.compile(r"[0-9a-fA-F]{64}"),
    "file:hashes.'SHA-512'": re.compile(r"[0-9a-fA-F]{128}"),
}
_PATH = "|".join(re.escape(path) for path in sorted(SIMPLE_PATHS, key=len, reverse=True))
# A STIX string literal: any character but a quote or a backslash, or one of the two escapes.
_STRING = r"'((?:[^'\\]|\\['\\])*)'"
_COMPARISON = rf"({_PATH}) = {_STRING}"
_OBSERVATION = rf"\[{_COMPARISON}(?: (?:AND|OR) {_COMPARISON})*\]"
SIMPLE_PATTERN = re.compile(rf"{_OBSERVATION}(?: (?:AND|OR) {_OBSERVATION})*")
_COMPARISON_RE = re.compile(_COMPARISON)
_SINGLE = re.compile(rf"\[([a-z0-9-]+:[A-Za-z0-9_.'-]+) = {_STRING}\]")

# (object type, property path, value): the path as stix2-patterns gives it, e.g.
# ("file", ("hashes", "SHA-256"), "…"); list indexes are "*".
Comparison = tuple[str, tuple[str, ...], str]


def unescape(literal: str) -> str:
    return literal.replace("\\'", "'").replace("\\\\", "\\")


def _split_path(path: str) -> tuple[str, tuple[str, ...]]:
    object_type, _, rest = path.partition(":")
    return object_type, tuple(part.strip("'") for part in rest.split("."))


_SPLIT_PATHS = {path: _split_path(path) for path in SIMPLE_PATHS}


def is_simple(pattern: str) -> bool:
    """Whether a pattern is of the simple form (what the validation's fast path asks)."""
    return simple_comparisons(pattern) is not None


# An intake reads each indicator's pattern twice, one right after the other: validation asks
# whether it is simple, then the identifiers want its comparisons. The last few parses are
# kept so the second reading costs a lookup (bench shared_intake).
@functools.lru_cache(maxsize=32)
def simple_comparisons(pattern: str) -> tuple[Comparison, ...] | None:
    """The comparisons of a pattern of the simple form; None when it is not of that form.

    A pattern of this form passes stix2-patterns' validation (tests/test_stix_validation.py
    shows it on generated patterns)."""
    single = _SINGLE.fullmatch(pattern)
    if single is not None:  # the commonest by far: one comparison, the path looked up
        path, literal = single.group(1), single.group(2)
        check = SIMPLE_PATHS.get(path)
        value = unescape(literal)
        return ((*_SPLIT_PATHS[path], value),) if check and check.fullmatch(value) else None
    if not SIMPLE_PATTERN.fullmatch(pattern):
        return None
    found: list[Comparison] = []
    for match in _COMPARISON_RE.finditer(pattern):
        path, literal = match.group(1), match.group(2)
        value = unescape(literal)
        if not SIMPLE_PATHS[path].fullmatch(value):
            return None
        found.append((*_SPLIT_PATHS[path], value))
    return tuple(found)


def equality_comparisons(pattern: str) -> Sequence[Comparison]:
    """The equality comparisons on string values anywhere in a STIX pattern (other operators,
    negations and non-string literals are left out); [] when it does not parse."""
    simple = simple_comparisons(pattern)
    if simple is not None:
        return simple
    try:
        inspected: Any = Pattern(pattern).inspect()
    except Exception:  # any parse failure: there is nothing to read from it
        return []
    found: list[Comparison] = []
    for object_type, comparisons in inspected.comparisons.items():
        for path, operator, literal in comparisons:
            if operator != "=" or not isinstance(literal, str) or not literal.startswith("'"):
                continue
            parts = tuple(part if isinstance(part, str) else "*" for part in path)
            found.append((object_type, parts, unescape(literal[1:-1])))
    return found
