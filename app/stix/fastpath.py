"""A fast check of the commonest STIX 2.1 objects, which only ever says "valid".

stix2-validator is the authority on what is valid, but spends some 3 ms on an object (it
reloads and recompiles its JSON schemas on every call); intake must take ~20,000 objects a
second. So the commonest shapes (an indicator with a simple pattern; the SCOs of addresses,
domains, URLs and file hashes; identities; the TLP marking definitions) are checked here by
exact rules strictly narrower than the validator's: an exact set of known properties, each of
an exact JSON type and format. ``certainly_valid`` returning True means the validator would
find no error (tests/test_stix_validation.py checks it against the validator on generated and
mutated objects); False means only "not sure": the caller asks the validator.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from app.stix.identifiers import DOTTED_QUAD
from app.stix.markings import TLP1_IDS, TLP2_IDS, marking_definition
from app.stix.patterns import is_simple

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_REF = re.compile(rf"[a-z][a-z0-9-]+[a-z0-9]--{_UUID}")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z"
)
_IPV4 = DOTTED_QUAD
# Hex groups only (no zone, no prefix, no embedded IPv4), which must also pass the schema's
# own regex, read from the validator's schema file and applied as it applies it (re.search).
_H = "[0-9a-f]{1,4}"
_IPV6 = re.compile(rf"(?:{_H}:){{7}}{_H}|(?:(?:{_H}:){{0,6}}{_H})?::(?:{_H}(?::{_H}){{0,6}})?")


def _validator_schema(path: str) -> Any:
    # Found without importing stix2validator, whose import builds jsonschema's format checkers
    # (two seconds, at every start of relay247 and its commands); validation imports it on
    # the first object that needs it.
    spec = importlib.util.find_spec("stix2validator")
    assert spec is not None
    assert spec.submodule_search_locations
    return json.loads((Path(spec.submodule_search_locations[0]) / path).read_text())


_IPV6_SCHEMA = re.compile(
    _validator_schema("schemas-2.1/schemas/observables/ipv6-addr.json")["allOf"][1]["properties"][
        "value"
    ]["pattern"]
)
# _matches uses fullmatch; the validator applies the schema's pattern with re.search.
_IPV6_SCHEMA_FULL = re.compile(f"(?s:.*?)(?:{_IPV6_SCHEMA.pattern})(?s:.*)")
# Lowercase LDH labels without "--" (which IDNA reads as an encoded label), a letters-only TLD.
_LABEL = r"[a-z0-9](?:[a-z0-9]|-(?!-)){0,61}(?<!-)"
_DOMAIN = re.compile(rf"(?=.{{4,253}}\Z)(?:{_LABEL}\.)+[a-z]{{2,63}}")
_EMAIL = re.compile(rf"[a-zA-Z0-9_.+-]{{1,64}}@{_DOMAIN.pattern}")
# RFC 3986 with nothing optional the URI checkers could disagree on: a scheme, a host of
# LDH characters, an optional port, then path, query and fragment characters other than '%'.
_PCHARS = r"[A-Za-z0-9._~!$&'()*+,;=:@/-]"
_URL = re.compile(
    rf"(?:https?|ftp)://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{{1,5}})?"
    rf"(?:/{_PCHARS}*)?(?:\?(?:{_PCHARS}|\?)*)?(?:#(?:{_PCHARS}|\?)*)?"
)
_HASHES = {
    "MD5": re.compile(r"[0-9a-fA-F]{32}"),
    "SHA-1": re.compile(r"[0-9a-fA-F]{40}"),
    "SHA-256": re.compile(r"[0-9a-fA-F]{64}"),
    "SHA-512": re.compile(r"[0-9a-fA-F]{128}"),
}
_TLP_DEFINITIONS = [marking_definition(code) for code in TLP2_IDS]
_TLP1 = {
    ref: {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": ref,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{'WHITE' if code.value == 'CLEAR' else code.value}",
        "definition": {"tlp": "white" if code.value == "CLEAR" else code.value.lower()},
    }
    for code, ref in TLP1_IDS.items()
}
_TLP_BY_ID = {**{d["id"]: d for d in _TLP_DEFINITIONS}, **_TLP1}


def _time(value: Any, *, millis: bool) -> datetime | None:
    """The instant of a STIX timestamp, or None: a real calendar date and time (no leap second),
    at most microseconds (what the validator's own comparison parses) and, for created and
    modified, at least milliseconds."""
    if type(value) is not str:
        return None
    return _parsed_time(value, millis)


# The objects of one bundle mostly share a few timestamps (created, modified, valid_from):
# each is parsed once.
@functools.lru_cache(maxsize=4096)
def _parsed_time(value: str, millis: bool) -> datetime | None:
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    fraction = match.group(7)
    if millis and (fraction is None or len(fraction) < 3):
        return None
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    try:
        return datetime(
            year, month, day, hour, minute, second, int((fraction or "0").ljust(6, "0"))
        )
    except ValueError:
        return None


def _string(value: Any) -> bool:
    return type(value) is str


def _strings(value: Any) -> bool:
    return type(value) is list and len(value) > 0 and all(type(v) is str for v in value)


@functools.lru_cache(maxsize=4096)
def _is_ref(value: str) -> bool:
    # A bundle repeats a few references (its markings, its author) on every object.
    return _REF.fullmatch(value) is not None


def _ref(value: Any) -> bool:
    return type(value) is str and _is_ref(value)


def _refs(value: Any) -> bool:
    return type(value) is list and len(value) > 0 and all(_ref(v) for v in value)


def _timestamp(value: Any) -> bool:
    return _time(value, millis=False) is not None


def _timestamp_millis(value: Any) -> bool:
    return _time(value, millis=True) is not None


def _confidence(value: Any) -> bool:
    return type(value) is int and 0 <= value <= 100


def _kill_chain_phases(value: Any) -> bool:
    return (
        type(value) is list
        and len(value) > 0
        and all(
            type(phase) is dict
            and phase.keys() == {"kill_chain_name", "phase_name"}
            and type(phase["kill_chain_name"]) is str
            and type(phase["phase_name"]) is str
            for phase in value
        )
    )


def _hashes(value: Any) -> bool:
    if type(value) is not dict or not value:
        return False
    for algorithm, digest in value.items():
        check = _HASHES.get(algorithm)
        if check is None or type(digest) is not str or not check.fullmatch(digest):
            return False
    return True


def _size(value: Any) -> bool:
    return type(value) is int and value >= 0


def _equals(expected: str) -> Callable[[Any], bool]:
    return lambda value: value == expected


def _matches(*patterns: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: type(value) is str and all(p.fullmatch(value) for p in patterns)


_Check = Callable[[Any], bool]
# Each known property with the check of its value, as narrow as or narrower than the schema's.
_SDO: dict[str, _Check] = {
    "type": _string,  # the table is chosen by type
    "spec_version": _equals("2.1"),
    "id": _ref,  # and of the object's type: see _has_own_id
    "created": _timestamp_millis,
    "modified": _timestamp_millis,
    "created_by_ref": _ref,
    "revoked": lambda value: type(value) is bool,
    "labels": _strings,
    "confidence": _confidence,
    "object_marking_refs": _refs,
    "name": _string,
    "description": _string,
}
_INDICATOR: dict[str, _Check] = {
    **_SDO,
    "indicator_types": _strings,
    "pattern": lambda value: type(value) is str and is_simple(value),
    "pattern_type": _equals("stix"),
    "pattern_version": _equals("2.1"),
    "valid_from": _timestamp,
    "valid_until": _timestamp,
    "kill_chain_phases": _kill_chain_phases,
}
_IDENTITY: dict[str, _Check] = {
    **_SDO,
    "roles": _strings,
    "identity_class": _string,
    "sectors": _strings,
    "contact_information": _string,
}
_SCO: dict[str, _Check] = {
    "type": _string,
    "spec_version": _equals("2.1"),
    "id": _ref,
    "object_marking_refs": _refs,
}
_FILE: dict[str, _Check] = {**_SCO, "hashes": _hashes, "name": _string, "size": _size}


def _value_sco(*patterns: re.Pattern[str]) -> dict[str, _Check]:
    return {**_SCO, "value": _matches(*patterns)}


# Per type: its property checks and the properties it must have.
_SHAPES: dict[str, tuple[dict[str, _Check], frozenset[str]]] = {
    "indicator": (
        _INDICATOR,
        frozenset({"spec_version", "id", "created", "modified", "pattern", "pattern_type",
                   "valid_from"}),
    ),
    "identity": (_IDENTITY, frozenset({"spec_version", "id", "created", "modified", "name"})),
    "ipv4-addr": (_value_sco(_IPV4), frozenset({"id", "value"})),
    "ipv6-addr": (_value_sco(_IPV6, _IPV6_SCHEMA_FULL), frozenset({"id", "value"})),
    "domain-name": (_value_sco(_DOMAIN), frozenset({"id", "value"})),
    "url": (_value_sco(_URL), frozenset({"id", "value"})),
    "email-addr": (_value_sco(_EMAIL), frozenset({"id", "value"})),
    "file": (_FILE, frozenset({"id", "hashes"})),
}  # fmt: skip


def _in_order(obj: Mapping[str, Any]) -> bool:
    """The validator's comparisons: modified >= created, valid_until > valid_from."""
    if "created" in obj:
        created, modified = _time(obj["created"], millis=True), _time(obj["modified"], millis=True)
        if created is None or modified is None or modified < created:
            return False
    if "valid_until" in obj:
        since, until = (
            _time(obj["valid_from"], millis=False),
            _time(obj["valid_until"], millis=False),
        )
        return since is not None and until is not None and until > since
    return True


def certainly_valid(obj: Any) -> bool:
    """True only for an object of a common shape that stix2-validator accepts."""
    if type(obj) is not dict:
        return False
    object_type = obj.get("type")
    if type(object_type) is not str:
        return False
    if object_type == "marking-definition":
        # Only the TLP definitions themselves, exactly as published.
        object_id = obj.get("id")
        return type(object_id) is str and _TLP_BY_ID.get(object_id) == obj
    shape = _SHAPES.get(object_type)
    if shape is None:
        return False
    checks, required = shape
    if not required <= obj.keys():
        return False
    for key, value in obj.items():
        check = checks.get(key)
        if check is None or not check(value):
            return False
    return obj["id"].startswith(object_type + "--") and _in_order(obj)
