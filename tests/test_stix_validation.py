"""app/stix/validation.py: stix2-validator decides, and the fast path never accepts what it
refuses (a differential test on generated and mutated objects)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import stix2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2validator import ValidationOptions, validate_instance

from app.models.enums import HandlingCode
from app.stix.errors import BundleError
from app.stix.fastpath import certainly_valid
from app.stix.markings import marking_definition
from app.stix.patterns import SIMPLE_PATHS
from app.stix.validation import bundle_objects, problems
from tests.stix_objects import common_objects, indicator, sco

_OPTIONS = ValidationOptions(version="2.1", strict=False, silent=True)
_SLOW = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _validator_accepts(obj: Any) -> bool:
    try:
        return bool(validate_instance(obj, _OPTIONS).is_valid)
    except Exception:  # the validator tripping on a shape is a refusal too
        return False


def _tlp1(code: str) -> dict[str, Any]:
    # As stix2 serializes its TLP 1.0 markings (what misp-stix sends).
    return json.loads(getattr(stix2.v21, f"TLP_{code}").serialize())  # type: ignore[no-any-return]


def _samples() -> list[dict[str, Any]]:
    return [
        *common_objects(),
        *(marking_definition(code) for code in HandlingCode),
        *(_tlp1(code) for code in ("WHITE", "GREEN", "AMBER", "RED")),
    ]


# Named by position and type: the samples' ids are random, and pytest-xdist's workers must
# collect the same names.
@pytest.mark.parametrize(
    "obj", [pytest.param(obj, id=f"{n}-{obj['type']}") for n, obj in enumerate(_samples())]
)
def test_the_fast_path_decides_the_common_shapes_and_the_validator_agrees(
    obj: dict[str, Any],
) -> None:
    # Else intake would take the slow path on real data without anyone noticing.
    assert certainly_valid(obj)
    assert _validator_accepts(obj)
    assert problems(obj) == []


# Values that break one rule or another, put in place of a property's value.
_ODD_VALUES = st.sampled_from(
    [
        None, True, 0, -1, 101, 1.5, "", " ", "x", [], {}, ["x"], [1], {"a": 1},
        "a\x00b", "2025-02-30T00:00:00.000Z", "2025-03-14T10:40:00Z",
        "2025-03-14T10:40:00.000Z", "2025-03-14T10:40:60.000Z", "2025-03-14T24:00:00.000Z",
        "2025-03-14 10:40:00.000Z", "2024-01-01T00:00:00.000Z", "2030-01-01T00:00:00.0000001Z",
        "indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F",
        "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f",
        "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\n",
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "stix", "pcre", "2.0", "2.1", "[ipv4-addr:value = '1.2.3.4'", "[ipv4-addr:valu = 'x']",
        "[x-custom:value = 'y']", "[file:hashes.MD5 = 'abc']", "300.1.1.1", "1.2.3.4/33",
        "::1", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9", "EXAMPLE.com", "-a.com", "a..com",
        "xn--a.com", "ex ample.com", "http://a b", "http://a/%zz", "mailto:x@y.z", "a@b",
        "ab@c.d", "MD5", "SHA-256",
    ]
)  # fmt: skip
_KEYS = st.sampled_from(
    [
        "type", "id", "spec_version", "created", "modified", "pattern", "pattern_type",
        "pattern_version", "valid_from", "valid_until", "value", "hashes", "name", "labels",
        "confidence", "object_marking_refs", "created_by_ref", "revoked", "kill_chain_phases",
        "indicator_types", "identity_class", "size", "foo", "x_foo", "Foo", "ab", "severity",
        "extensions", "granular_markings", "external_references", "lang", "defanged",
    ]
)  # fmt: skip
_CHARACTERS = st.sampled_from([*"'\\\n ]-[.:/%@A9z_\x00\u0663é+*", "", "--", " AND "])


@st.composite
def _mutants(draw: st.DrawFn) -> dict[str, Any]:
    obj = copy.deepcopy(draw(st.sampled_from(_samples())))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["delete", "replace", "add", "edit", "hash"]))
        key = draw(_KEYS)
        if action == "delete":
            obj.pop(key, None)
        elif action in ("replace", "add"):
            obj[key] = draw(_ODD_VALUES)
        elif action == "edit" and isinstance(obj.get(key), str):
            text = obj[key]
            at = draw(st.integers(0, len(text)))
            cut = draw(st.integers(0, 2))
            obj[key] = text[:at] + draw(_CHARACTERS) + text[at + cut :]
        elif action == "hash" and isinstance(obj.get("hashes"), dict):
            algorithm = draw(st.sampled_from(["MD5", "md5", "SHA-1", "SHA256", "SHA-512", "x"]))
            obj["hashes"][algorithm] = draw(st.sampled_from(["0" * 32, "A" * 40, "g" * 64, ""]))
    return obj


@_SLOW
@given(_mutants())
def test_what_the_fast_path_accepts_among_mutated_objects_the_validator_accepts(
    obj: dict[str, Any],
) -> None:
    if certainly_valid(obj):
        assert _validator_accepts(obj), obj


_VALUE_TEXT = st.text(alphabet=st.sampled_from(list("ab1.:/@-_'\\ \n]é[%")), max_size=12)


@st.composite
def _simple_patterns(draw: st.DrawFn) -> str:
    def comparison() -> str:
        path = draw(st.sampled_from(sorted(SIMPLE_PATHS)))
        value = draw(st.one_of(_VALUE_TEXT, st.sampled_from(["0" * 32, "f" * 40, "A" * 64])))
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        if draw(st.booleans()):
            escaped = value  # unescaped: often not a valid literal
        return f"{path} = '{escaped}'"

    def observation() -> str:
        parts = [comparison() for _ in range(draw(st.integers(1, 3)))]
        joins = [draw(st.sampled_from([" AND ", " OR ", "  OR ", " and "])) for _ in parts]
        return "[" + "".join(j + p for j, p in zip(["", *joins], parts, strict=False)) + "]"

    observations = [observation() for _ in range(draw(st.integers(1, 2)))]
    return " OR ".join(observations)


@_SLOW
@given(_simple_patterns())
def test_what_the_fast_path_accepts_among_generated_patterns_the_validator_accepts(
    pattern: str,
) -> None:
    obj = indicator(pattern)
    if certainly_valid(obj):
        assert _validator_accepts(obj), pattern


_DOMAINS = st.from_regex(r"[a-z0-9-]{1,8}(\.[a-z0-9-]{1,8}){0,2}\.[a-z]{2,4}", fullmatch=True)


_LOCAL_PARTS = st.from_regex(r"[a-zA-Z0-9_.+-]{1,6}", fullmatch=True)
_URL_TAILS = st.text(alphabet=st.sampled_from(list("az09._~!$&'()*+,;=:@/-?#%")), max_size=8)
_OBSERVABLES = st.one_of(
    st.builds(lambda v: sco("domain-name", value=v), _DOMAINS),
    st.builds(lambda a, d: sco("email-addr", value=f"{a}@{d}"), _LOCAL_PARTS, _DOMAINS),
    st.builds(lambda d, t: sco("url", value=f"http://{d}/{t}"), _DOMAINS, _URL_TAILS),
    st.builds(lambda v: sco("ipv6-addr", value=str(v)), st.ip_addresses(v=6)),
    st.builds(lambda v: sco("ipv4-addr", value=str(v)), st.ip_addresses(v=4)),
)


@_SLOW
@given(_OBSERVABLES)
def test_what_the_fast_path_accepts_among_generated_observables_the_validator_accepts(
    obj: dict[str, Any],
) -> None:
    if certainly_valid(obj):
        assert _validator_accepts(obj), obj


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"created": "2025-02-30T00:00:00.000Z"}, "is not a valid timestamp"),
        ({"pattern": "[ipv4-addr:value = '203.0.113.7'"}, "Pattern failed to validate"),
        ({"pattern_type": 7}, "is not of type 'string'"),
        ({"modified": "2020-01-01T00:00:00.000Z"}, "must be later than or equal to"),
    ],
)
def test_problems_are_the_validators_errors_without_the_submitted_values(
    change: dict[str, Any], expected: str
) -> None:
    obj = indicator("[ipv4-addr:value = '203.0.113.7']") | change
    found = problems(obj)
    assert found
    assert any(expected in problem for problem in found), found
    assert all(len(problem) <= 200 for problem in found)
    assert not any("203.0.113.7" in problem for problem in found)
    assert not any(obj["id"] in problem for problem in found)


def test_a_shape_the_validator_trips_on_is_a_problem_not_a_crash() -> None:
    obj = {
        "type": "observed-data",
        "spec_version": "2.1",
        "id": "observed-data--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "objects": {"0": 7},
    }
    assert problems(obj)
    assert problems({"type": "indicator"}) == ["an object needs a string 'type' and a string 'id'"]


def test_an_address_the_validator_refuses_is_not_repeated() -> None:
    found = problems(sco("ipv4-addr", value="300.1.1.1"))
    assert found
    assert not any("300.1.1.1" in problem for problem in found)


def test_bundle_and_envelope_give_their_objects() -> None:
    objects = common_objects()
    bundle = {
        "type": "bundle",
        "id": "bundle--5d4a1f2e-6b7c-4d8e-9f01-23456789abcd",
        "objects": objects,
    }
    assert bundle_objects(bundle) == objects
    assert bundle_objects({"objects": objects, "more": False}) == objects
    assert bundle_objects({"objects": []}) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "must be a JSON object"),
        ({"type": "indicator", "id": "indicator--x"}, "must be a bundle"),
        ({"type": "bundle", "id": "bundle--nope", "objects": []}, "bundle--<UUID>"),
        (
            {"type": "bundle", "id": "bundle--5d4a1f2e-6b7c-4d8e-9f01-23456789abcd",
             "spec_version": "2.0", "objects": []},
            "Only STIX 2.1",
        ),
        ({"objects": {}}, "'objects' must be a list"),
        ({"objects": [1]}, "objects[0] is not a JSON object"),
        ({"objects": [], "extra": 1}, "Unexpected properties: extra"),
    ],
)  # fmt: skip
def test_a_payload_that_is_neither_is_refused_clearly(payload: Any, message: str) -> None:
    with pytest.raises(BundleError, match=message.replace("[", r"\[").replace("]", r"\]")):
        bundle_objects(payload)
