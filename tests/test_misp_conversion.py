"""app/stix/misp.py: real MISP events converted with misp-stix, as partners export them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.models.enums import HandlingCode, IdentifierKind
from app.stix.errors import BundleError
from app.stix.identifiers import identifiers_of
from app.stix.markings import TLP1_IDS, handling_code_of, marking_ref
from app.stix.misp import misp_event_to_bundle
from app.stix.validation import bundle_objects, problems

_DATA = Path(__file__).parent / "data" / "misp"


def _bundle(name: str) -> dict[str, Any]:
    return misp_event_to_bundle(json.loads((_DATA / name).read_text()))


def _identifiers(bundle: dict[str, Any]) -> dict[tuple[IdentifierKind, str], HandlingCode | None]:
    found: dict[tuple[IdentifierKind, str], HandlingCode | None] = {}
    for obj in bundle_objects(bundle):
        for identifier in identifiers_of(obj):
            found[identifier] = handling_code_of(obj)
    return found


@pytest.mark.parametrize("name", ["phishing_event.json", "malware_event.json", "strict_event.json"])
def test_a_converted_event_is_a_valid_bundle(name: str) -> None:
    bundle = _bundle(name)
    assert bundle["type"] == "bundle"
    for obj in bundle_objects(bundle):
        assert problems(obj) == [], obj["id"]


def test_a_phishing_event_gives_its_identifiers_under_its_tlp() -> None:
    # The {"Event": {...}} form, tagged tlp:amber, one attribute tagged tlp:red.
    bundle = _bundle("phishing_event.json")
    assert _identifiers(bundle) == {
        (IdentifierKind.URL, "https://tax-refund.example.net/Login?session=42"): HandlingCode.AMBER,
        (IdentifierKind.DOMAIN, "tax-refund.example.net"): HandlingCode.AMBER,
        (IdentifierKind.EMAIL, "refunds@tax-office.example.org"): HandlingCode.AMBER,
        (IdentifierKind.IP, "203.0.113.45"): HandlingCode.AMBER,
        (IdentifierKind.IP, "2001:db8::17"): HandlingCode.RED,
    }
    # misp-stix marks tlp:amber and tlp:red with stix2's TLP 1.0 definitions.
    markings = {o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"}
    assert markings == {TLP1_IDS[HandlingCode.AMBER], TLP1_IDS[HandlingCode.RED]}


def test_a_malware_event_gives_hashes_and_crypto_addresses_and_phone_numbers() -> None:
    # The bare event form, tagged tlp:green; btc, xmr and phone-number have no STIX object:
    # misp-stix makes x-misp-attribute objects of them.
    found = _identifiers(_bundle("malware_event.json"))
    assert found == {
        (IdentifierKind.HASH, "44d88612fea8a8f36de82e1278abb02f"): HandlingCode.GREEN,
        (
            IdentifierKind.HASH,
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
        ): HandlingCode.GREEN,
        (IdentifierKind.HASH, "3395856ce81f2b7382dee72602f798b642f14140"): HandlingCode.GREEN,
        (
            IdentifierKind.CRYPTO_ADDRESS,
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ): HandlingCode.GREEN,
        (
            IdentifierKind.CRYPTO_ADDRESS,
            "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
        ): HandlingCode.GREEN,
        (IdentifierKind.PHONE, "+442079460958"): HandlingCode.GREEN,
    }


def test_tlp2_tags_become_tlp2_markings_and_the_strictest_wins() -> None:
    bundle = _bundle("strict_event.json")
    assert _identifiers(bundle) == {
        (IdentifierKind.DOMAIN, "kit.phish-panel.example.com"): HandlingCode.AMBER_STRICT,
        (IdentifierKind.IP, "198.51.100.23"): HandlingCode.RED,
        (IdentifierKind.EMAIL, "drop.box@mail.example.com"): HandlingCode.AMBER_STRICT,
        # Tagged tlp:clear in a tlp:amber+strict event: the event's code still holds.
        (
            IdentifierKind.HASH,
            "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
        ): HandlingCode.AMBER_STRICT,
    }
    markings = {o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"}
    assert marking_ref(HandlingCode.AMBER_STRICT) in markings
    assert marking_ref(HandlingCode.CLEAR) in markings


def test_every_object_of_a_tagged_event_is_marked() -> None:
    for name in ("phishing_event.json", "malware_event.json", "strict_event.json"):
        for obj in bundle_objects(_bundle(name)):
            if obj["type"] not in ("marking-definition", "identity"):
                assert handling_code_of(obj) is not None, (name, obj["id"])


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"Event": "nope"},
        {"Event": {"uuid": "5d4a1f2e-6b7c-4d8e-9f01-23456789abcd"}},
        {"Event": {"info": "x", "uuid": "not-a-uuid", "Attribute": "x"}},
        {"Event": {"info": "x", "Attribute": [{"type": "ip-dst"}]}},
    ],
)
def test_what_is_no_convertible_event_is_refused_clearly(event: Any) -> None:
    with pytest.raises(BundleError, match="MISP event"):
        misp_event_to_bundle(event)
