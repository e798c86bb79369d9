"""app/stix/parsing.py: a body is strict JSON that Postgres can store, or a clear refusal."""

from __future__ import annotations

import pytest

from app.stix.errors import BundleError
from app.stix.parsing import load_json


def test_a_bundle_parses() -> None:
    assert load_json(b'{"objects": [{"type": "x", "n": 1.5}]}') == {
        "objects": [{"type": "x", "n": 1.5}]
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"objects": [}', "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),  # invalid UTF-8
        (b'{"a": "\\ud800"}', "not valid JSON"),  # a lone surrogate
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"a": Infinity}', "not valid JSON"),
        (b'{"a": 1e400}', "not valid JSON"),  # overflows to infinity
        (b'{"a": "x\\u0000y"}', "NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b'["\\u0000"]', "NUL"),
        (b'"\\u0000"', "NUL"),
    ],
)
def test_what_cannot_be_stored_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        load_json(body)


def test_an_escaped_backslash_before_u0000_is_no_nul() -> None:
    assert load_json(b'{"a": "\\\\u0000"}') == {"a": "\\u0000"}


def test_ten_thousand_nested_objects_are_a_clear_error() -> None:
    body = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    with pytest.raises(BundleError, match="deeper than 64 levels"):
        load_json(body)
    with pytest.raises(BundleError, match="deeper than 64 levels"):
        load_json(b"[" * 10_000 + b"]" * 10_000)


def test_the_depth_limit_is_exact() -> None:
    assert load_json(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(BundleError):
        load_json(b"[" * 65 + b"]" * 65)
    assert load_json(b"[" * 8 + b"]" * 8, max_depth=8) is not None


def test_duplicate_keys_keep_the_last_value() -> None:
    # Decided: parsed once, here; everything after reads this one value (see load_json).
    assert load_json(b'{"a": 1, "a": 2}') == {"a": 2}
