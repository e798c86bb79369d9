"""RFC 8785 (JSON Canonicalization Scheme) and its SHA-256: the one canonical JSON form of every
hash relay247 publishes (a request's ``content_hash``, the audit chain, checkpoints, receipts,
exports), so that an auditor reproduces them all with one RFC 8785 library.

Before, a request's ``content_hash`` (and the idempotency fingerprint) hashed the stdlib's
``json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))``. That form differs
from RFC 8785 only on floats, integers beyond ±(2**53 - 1) and non-ASCII object keys (sorted by
code point, not UTF-16 unit); a request's content has none (four ASCII names holding strings
and a list of ``{"kind", "value"}`` strings, the same since the first commit), so every hash
written the old way is the RFC 8785 hash of its content: no row needs a marker of its form
(docs/audit-chain.md, "Content hashes"; tests/test_content_hash.py checks it).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import rfc8785

# RFC 8785 numbers are IEEE doubles: integers are exact only within this range.
SAFE_INTEGER = 2**53 - 1


def stdlib_gives_jcs(value: Any) -> bool:
    """Whether the stdlib's JSON encoder writes ``value`` exactly as RFC 8785 does: no float
    (ECMAScript number formatting differs from Python's repr), integers in the exact range,
    and object keys in ASCII (RFC 8785 sorts keys by UTF-16 code units, Python by code points;
    the two orders agree on ASCII). Strings are escaped identically by both (the same
    characters, the same lowercase \\u00XX form; the rfc8785 package took its escaping from
    the stdlib's), which tests/test_audit_chain.py checks against the package."""
    # Iterative, with the exact types first: every hashed document passes here (a bundle's
    # ten thousand objects, each audit entry), so it is a hot path (bench shared_intake).
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict or (kind is not list and isinstance(item, dict)):
            for key, child in item.items():
                if not (isinstance(key, str) and key.isascii()):
                    return False
                if type(child) is not str:
                    pending.append(child)
        elif kind is list or isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str | bool):
            continue
        elif isinstance(item, int):
            if not -SAFE_INTEGER <= item <= SAFE_INTEGER:
                return False
        else:
            return False
    return True


def jcs(document: Any, *, checked: bool = False) -> bytes:
    """The RFC 8785 bytes of a JSON document. Documents are nearly always within the subset on
    which a C encoder (orjson; the stdlib's, as ``stdlib_gives_jcs`` says) gives the same
    bytes, many times faster than the pure Python rfc8785 package, which serialises
    everything else (and refuses what RFC 8785 cannot carry: ValueError). ``checked``: the
    caller knows the document is in that subset."""
    if checked or stdlib_gives_jcs(document):
        try:
            # orjson writes that subset byte for byte as the stdlib does (the same escapes,
            # keys sorted the same on ASCII), a few times faster again; the hypothesis test
            # in tests/test_audit_chain.py holds it to the rfc8785 package.
            return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass  # a lone surrogate (or a type JSON has not): the package's own error
    return rfc8785.dumps(document)


def sha256_hex(value: Any) -> str:
    """SHA-256, lowercase hex, of the RFC 8785 form of ``value``."""
    return hashlib.sha256(jcs(value)).hexdigest()
