"""TLP 2.0 marking definitions (the OASIS TLP 2.0 extension) and relay247's handling codes.

stix2 ships only the TLP 1.0 definitions; partners and misp-stix still emit them, so both
sets are read (TLP:WHITE is TLP 2.0's CLEAR). What relay247 serves is TLP 2.0 only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from app.models.enums import HandlingCode

# The TLP 2.0 extension definition every TLP 2.0 marking-definition names (OASIS
# cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

TLP2_IDS: dict[HandlingCode, str] = {
    HandlingCode.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    HandlingCode.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    HandlingCode.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    HandlingCode.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    HandlingCode.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

# TLP 1.0 as stix2 ships it (stix2.v21.TLP_WHITE...). TLP 1.0 had no AMBER+STRICT.
TLP1_IDS: dict[HandlingCode, str] = {
    HandlingCode.CLEAR: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # WHITE
    HandlingCode.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    HandlingCode.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    HandlingCode.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

CODE_OF_MARKING: dict[str, HandlingCode] = {
    **{ref: code for code, ref in TLP1_IDS.items()},
    **{ref: code for code, ref in TLP2_IDS.items()},
}

# From who may read the most to who may read the least: a code's rank in this tuple.
ORDER: tuple[HandlingCode, ...] = (
    HandlingCode.CLEAR,
    HandlingCode.GREEN,
    HandlingCode.AMBER,
    HandlingCode.AMBER_STRICT,
    HandlingCode.RED,
)
_RANK = {code: rank for rank, code in enumerate(ORDER)}


def rank(code: HandlingCode) -> int:
    """0 for CLEAR up to 4 for RED: a larger rank reaches fewer readers."""
    return _RANK[code]


def more_restrictive(a: HandlingCode, b: HandlingCode) -> HandlingCode:
    return a if _RANK[a] >= _RANK[b] else b


def exceeds(code: HandlingCode, ceiling: HandlingCode) -> bool:
    """Whether ``code`` is more restrictive than ``ceiling`` (an agreement's ceiling: what a
    partner may submit, or what a reader may see)."""
    return _RANK[code] > _RANK[ceiling]


def handling_code_of(obj: Mapping[str, Any]) -> HandlingCode | None:
    """The TLP code of a whole object, from its ``object_marking_refs``; None when unmarked.

    Several TLP markings on one object contradict each other; the most restrictive wins,
    since honouring a looser one would show the object to readers its author excluded, while
    the stricter one only shows it to fewer.

    ``granular_markings`` are not read: they mark parts of an object (a property, a list
    item), never the object as stored and matched, and a granular marking selecting every
    property is no different in effect from, and rarer than, an object marking. An object
    marked only granularly counts as unmarked and gets what the agreement says for those.
    Markings that are not TLP (statements, other extensions) are ignored here.
    """
    refs = obj.get("object_marking_refs")
    if not isinstance(refs, list):
        return None
    found: HandlingCode | None = None
    for ref in refs:
        code = CODE_OF_MARKING.get(ref) if isinstance(ref, str) else None
        if code is not None:
            found = code if found is None else more_restrictive(found, code)
    return found


def marking_ref(code: HandlingCode) -> str:
    """The id of the TLP 2.0 marking-definition for ``code``."""
    return TLP2_IDS[code]


_NAMES = {code: f"TLP:{code.value}" for code in ORDER}

_DEFINITIONS: dict[HandlingCode, dict[str, Any]] = {
    code: {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[code],
        "created": "2022-10-01T00:00:00.000Z",
        "name": _NAMES[code],
        "extensions": {
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": code.value.lower(),
            }
        },
    }
    for code in ORDER
}


def marking_definition(code: HandlingCode) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object for ``code``, as OASIS publishes it (a copy:
    the caller may put it in a response)."""
    return copy.deepcopy(_DEFINITIONS[code])
