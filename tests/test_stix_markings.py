"""app/stix/markings.py: TLP 2.0 and TLP 1.0 markings read as handling codes."""

from __future__ import annotations

import json

import pytest
import stix2

from app.models.enums import HandlingCode
from app.stix.markings import (
    ORDER,
    TLP1_IDS,
    TLP2_EXTENSION_ID,
    exceeds,
    handling_code_of,
    marking_definition,
    marking_ref,
    more_restrictive,
)
from app.stix.validation import problems

# As OASIS publishes them (cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
_OASIS_TLP2 = {
    HandlingCode.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    HandlingCode.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    HandlingCode.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    HandlingCode.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    HandlingCode.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


def _marked(*refs: str) -> dict[str, object]:
    return {"type": "indicator", "object_marking_refs": list(refs)}


@pytest.mark.parametrize("code", list(HandlingCode))
def test_each_code_has_the_oasis_tlp2_marking(code: HandlingCode) -> None:
    assert marking_ref(code) == _OASIS_TLP2[code]
    definition = marking_definition(code)
    assert definition["id"] == _OASIS_TLP2[code]
    assert definition["name"] == f"TLP:{code.value}"
    assert definition["extensions"] == {
        TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": code.value.lower()}
    }
    assert problems(definition) == []
    assert handling_code_of(_marked(marking_ref(code))) is code


def test_a_served_definition_is_a_copy() -> None:
    marking_definition(HandlingCode.RED)["name"] = "changed"
    assert marking_definition(HandlingCode.RED)["name"] == "TLP:RED"


@pytest.mark.parametrize(
    ("marking", "code"),
    [
        (stix2.v21.TLP_WHITE, HandlingCode.CLEAR),
        (stix2.v21.TLP_GREEN, HandlingCode.GREEN),
        (stix2.v21.TLP_AMBER, HandlingCode.AMBER),
        (stix2.v21.TLP_RED, HandlingCode.RED),
    ],
)
def test_the_tlp1_markings_stix2_ships_are_read(marking: object, code: HandlingCode) -> None:
    marking_id = json.loads(marking.serialize())["id"]  # type: ignore[attr-defined]
    assert TLP1_IDS[code] == marking_id
    assert handling_code_of(_marked(marking_id)) is code


def test_the_most_restrictive_of_several_markings_wins() -> None:
    obj = _marked(
        marking_ref(HandlingCode.GREEN),
        "marking-definition--a0d1f5d5-6a7c-4b6a-8b6e-0c4a2f5f1a11",  # a statement: ignored
        marking_ref(HandlingCode.AMBER_STRICT),
        TLP1_IDS[HandlingCode.AMBER],
    )
    assert handling_code_of(obj) is HandlingCode.AMBER_STRICT


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "indicator"},
        _marked(),
        _marked("marking-definition--a0d1f5d5-6a7c-4b6a-8b6e-0c4a2f5f1a11"),
        {"type": "indicator", "object_marking_refs": "not a list"},
        {"type": "indicator", "object_marking_refs": [7, None]},
        {
            "type": "indicator",
            "granular_markings": [
                {"marking_ref": marking_ref(HandlingCode.RED), "selectors": ["pattern"]}
            ],
        },
    ],
)
def test_an_object_without_a_tlp_object_marking_is_unmarked(obj: dict[str, object]) -> None:
    assert handling_code_of(obj) is None


def test_codes_are_ordered_by_restriction() -> None:
    assert ORDER == (
        HandlingCode.CLEAR,
        HandlingCode.GREEN,
        HandlingCode.AMBER,
        HandlingCode.AMBER_STRICT,
        HandlingCode.RED,
    )
    assert more_restrictive(HandlingCode.GREEN, HandlingCode.AMBER) is HandlingCode.AMBER
    assert more_restrictive(HandlingCode.RED, HandlingCode.CLEAR) is HandlingCode.RED
    assert exceeds(HandlingCode.RED, HandlingCode.AMBER)
    assert not exceeds(HandlingCode.AMBER, HandlingCode.AMBER)
    assert not exceeds(HandlingCode.GREEN, HandlingCode.AMBER_STRICT)
