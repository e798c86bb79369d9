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

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib.resources import files
from typing import Any

from app.stix.markings import TLP1_IDS, TLP2_IDS, marking_definition
from app.stix.patterns import simple_comparisons

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_REF = re.compile(rf"[a-z][a-z0-9-]+[a-z0-9]--{_UUID}")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z"
)
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
)
# Hex groups only (no zone, no prefix, no embedded IPv4), which must also pass the schema's
# own regex, read from the validator's schema file and applied as it applies it (re.search).
_H = "[0-9a-f]{1,4}"
_IPV6 = re.compile(rf"(?:{_H}:){{7}}{_H}|(?:(?:{_H}:){{0,6}}{_H})?::(?:{_H}(?::{_H}){{0,6}})?")
_IPV6_SCHEMA = re.compile(
    json.loads(
        (files("stix2validator") / "schemas-2.1/schemas/observables/ipv6-addr.json").read_text()
    )["allOf"][1]["properties"]["value"]["pattern"]
)
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


def _strings(value: Any) -> bool:
    return type(value) is list and len(value) > 0 and all(type(v) is str for v in value)


def _refs(value: Any) -> bool:
    return (
        type(value) is list
        and len(value) > 0
        and all(type(v) is str and _REF.fullmatch(v) for v in value)
    )


def _optional(obj: Mapping[str, Any]) -> bool:
    """The optional common properties, where present (each check is that of the schema)."""
    for key in ("name", "description", "identity_class", "contact_information"):
        if key in obj and type(obj[key]) is not str:
            return False
    for key in ("labels", "indicator_types", "roles", "sectors"):
        if key in obj and not _strings(obj[key]):
            return False
    if "object_marking_refs" in obj and not _refs(obj["object_marking_refs"]):
        return False
    if "created_by_ref" in obj and not (
        type(obj["created_by_ref"]) is str and _REF.fullmatch(obj["created_by_ref"])
    ):
        return False
    if "confidence" in obj:
        confidence = obj["confidence"]
        if type(confidence) is not int or not 0 <= confidence <= 100:
            return False
    return "revoked" not in obj or type(obj["revoked"]) is bool


def _sdo(obj: Mapping[str, Any], object_type: str) -> bool:
    if obj.get("spec_version") != "2.1":
        return False
    object_id = obj.get("id")
    if type(object_id) is not str or not object_id.startswith(object_type + "--"):
        return False
    if not _REF.fullmatch(object_id):
        return False
    created = _time(obj.get("created"), millis=True)
    modified = _time(obj.get("modified"), millis=True)
    return created is not None and modified is not None and modified >= created


_INDICATOR_KEYS = frozenset(
    {
        "type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked",
        "labels", "confidence", "object_marking_refs", "name", "description",
        "indicator_types", "pattern", "pattern_type", "pattern_version", "valid_from",
        "valid_until", "kill_chain_phases",
    }
)  # fmt: skip


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


def _indicator(obj: Mapping[str, Any]) -> bool:
    if not obj.keys() <= _INDICATOR_KEYS or not _sdo(obj, "indicator") or not _optional(obj):
        return False
    if obj.get("pattern_type") != "stix" or obj.get("pattern_version", "2.1") != "2.1":
        return False
    pattern = obj.get("pattern")
    if type(pattern) is not str or simple_comparisons(pattern) is None:
        return False
    if "kill_chain_phases" in obj and not _kill_chain_phases(obj["kill_chain_phases"]):
        return False
    valid_from = _time(obj.get("valid_from"), millis=False)
    if valid_from is None:
        return False
    if "valid_until" in obj:
        valid_until = _time(obj["valid_until"], millis=False)
        return valid_until is not None and valid_until > valid_from
    return True


_IDENTITY_KEYS = frozenset(
    {
        "type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked",
        "labels", "confidence", "object_marking_refs", "name", "description", "roles",
        "identity_class", "sectors", "contact_information",
    }
)  # fmt: skip


def _identity(obj: Mapping[str, Any]) -> bool:
    return (
        obj.keys() <= _IDENTITY_KEYS and "name" in obj and _sdo(obj, "identity") and _optional(obj)
    )


_SCO_KEYS = frozenset({"type", "spec_version", "id", "object_marking_refs"})


def _sco(obj: Mapping[str, Any], object_type: str, keys: frozenset[str]) -> bool:
    if not obj.keys() <= keys or obj.get("spec_version", "2.1") != "2.1":
        return False
    object_id = obj.get("id")
    if type(object_id) is not str or not object_id.startswith(object_type + "--"):
        return False
    if not _REF.fullmatch(object_id):
        return False
    return "object_marking_refs" not in obj or _refs(obj["object_marking_refs"])


def _value_sco(
    pattern: re.Pattern[str], schema: re.Pattern[str] | None = None
) -> Callable[[Mapping[str, Any]], bool]:
    keys = _SCO_KEYS | {"value"}

    def check(obj: Mapping[str, Any]) -> bool:
        value = obj.get("value")
        return (
            type(value) is str
            and pattern.fullmatch(value) is not None
            and (schema is None or schema.search(value) is not None)
            and _sco(obj, obj["type"], keys)
        )

    return check


_FILE_KEYS = _SCO_KEYS | {"hashes", "name", "size"}


def _file(obj: Mapping[str, Any]) -> bool:
    hashes = obj.get("hashes")
    if type(hashes) is not dict or not hashes:
        return False
    for algorithm, digest in hashes.items():
        check = _HASHES.get(algorithm)
        if check is None or type(digest) is not str or not check.fullmatch(digest):
            return False
    if "name" in obj and type(obj["name"]) is not str:
        return False
    if "size" in obj and (type(obj["size"]) is not int or obj["size"] < 0):
        return False
    return _sco(obj, "file", _FILE_KEYS)


def _marking_definition(obj: Mapping[str, Any]) -> bool:
    # Only the TLP definitions themselves, byte for byte as published.
    return _TLP_BY_ID.get(obj.get("id")) == obj


_CHECKS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "indicator": _indicator,
    "identity": _identity,
    "ipv4-addr": _value_sco(_IPV4),
    "ipv6-addr": _value_sco(_IPV6, _IPV6_SCHEMA),
    "domain-name": _value_sco(_DOMAIN),
    "url": _value_sco(_URL),
    "email-addr": _value_sco(_EMAIL),
    "file": _file,
    "marking-definition": _marking_definition,
}


def certainly_valid(obj: Any) -> bool:
    """True only for an object of a common shape that stix2-validator accepts."""
    if type(obj) is not dict:
        return False
    check = _CHECKS.get(obj.get("type"))  # type: ignore[arg-type]
    return check is not None and check(obj)
