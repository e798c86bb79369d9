"""MISP events to STIX 2.1 bundles, with misp-stix (the MISP project's own converter)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.stix.errors import BundleError
from app.stix.markings import CODE_OF_MARKING

# Objects a MISP event's TLP tag does not concern: the markings themselves and the identity
# of the organisation that made the event.
_UNMARKED_TYPES = {"marking-definition", "identity"}


def misp_event_to_bundle(event: Mapping[str, Any]) -> dict[str, Any]:
    """One MISP event (``{"Event": {...}}`` or the bare event) as a STIX 2.1 bundle dict.

    misp-stix puts an event's TLP tag on the report (or grouping) alone; in MISP an event's
    tags apply to every attribute in it, so the event's TLP markings are added to each object
    of the bundle (an attribute tagged more restrictively keeps its own too, and
    markings.handling_code_of takes the most restrictive). Without this, every indicator of a
    TLP:AMBER event would arrive unmarked. Likewise an attribute's own TLP tag lands on its
    observed-data, not on the observables it holds: those get it too.
    """
    if not isinstance(event, Mapping):
        raise BundleError("A MISP event must be a JSON object")
    inner = event.get("Event", event)
    if not isinstance(inner, Mapping) or not isinstance(inner.get("info"), str):
        raise BundleError("Not a MISP event: expected {'Event': {...}} with an 'info'")
    # Imported on first use: misp-stix brings pymisp, STIX 1 tooling and lxml (a second of
    # imports) that a server taking no MISP events need not load.
    from misp_stix_converter import MISPtoSTIX21Parser

    parser = MISPtoSTIX21Parser()
    try:
        parser.parse_misp_event(json.loads(json.dumps(dict(event))))
        bundle: dict[str, Any] = json.loads(parser.bundle.serialize())
    except Exception as error:  # misp-stix raises whatever its input trips it on
        raise BundleError(
            f"The MISP event cannot be converted to STIX ({type(error).__name__})"
        ) from None
    load_errors = [
        message
        for messages in parser.errors.values()
        for message in messages
        if isinstance(message, str)
    ]
    objects = bundle.get("objects")
    if load_errors or not isinstance(objects, list) or not objects:
        detail = f": {load_errors[0][:150]}" if load_errors else ""
        raise BundleError(f"The MISP event cannot be converted to STIX{detail}")
    _spread_event_markings(objects)
    return bundle


def _tlp_refs(obj: Mapping[str, Any]) -> list[str]:
    return [ref for ref in obj.get("object_marking_refs", []) if ref in CODE_OF_MARKING]


def _add_markings(obj: dict[str, Any], tlp: list[str]) -> None:
    if tlp and obj.get("type") not in _UNMARKED_TYPES:
        refs = obj.setdefault("object_marking_refs", [])
        refs.extend(ref for ref in tlp if ref not in refs)


def _spread_event_markings(objects: list[dict[str, Any]]) -> None:
    by_id = {obj.get("id"): obj for obj in objects}
    # Observed-data first, from the attributes' own tags, then the event's on everything.
    for obj in objects:
        if obj.get("type") == "observed-data":
            tlp = _tlp_refs(obj)
            for ref in obj.get("object_refs", []):
                if ref in by_id:
                    _add_markings(by_id[ref], tlp)
    event_tlp = [
        ref
        for container in objects
        if container.get("type") in ("report", "grouping")
        for ref in _tlp_refs(container)
    ]
    for obj in objects:
        _add_markings(obj, event_tlp)
