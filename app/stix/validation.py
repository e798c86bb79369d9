"""STIX 2.1 validation of a submission: its envelope, then each object.

stix2-validator is the authority: every object the fast path (app/stix/fastpath.py) is not
sure of, and every rejection, goes through it, so the messages a partner reads are its.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from app.stix.errors import BundleError
from app.stix.fastpath import certainly_valid


@functools.cache
def _validator() -> Callable[[dict[str, Any]], Any]:
    # Imported on first use: stix2-validator loads jsonschema's format checkers (seconds of
    # imports) and registers its own e-mail format on jsonschema's global checker.
    from stix2validator import ValidationOptions, validate_instance

    # STIX 2.1, the validator's MUSTs as errors, its SHOULDs as warnings which refuse nothing
    # (a missing description, a label outside a vocabulary, a custom property without an
    # extension: common in partners' data and harmless to store). Silent: it prints otherwise.
    options = ValidationOptions(version="2.1", strict=False, silent=True)
    return functools.partial(validate_instance, options=options)


_MAX_PROBLEM = 200
_BUNDLE_ID = re.compile(
    r"bundle--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-"
    r"[0-9a-fA-F]{12}"
)
# The validator quotes what it refuses ("'value': '203.0.113.300' does not match '^((...'",
# a pattern's tokens): a problem keeps the quoted property names and keywords (letters,
# '_' and '-') and hides any other quoted text, which may be submitted content (an address,
# an account) that status resources and logs must not repeat.
_DOES_NOT_MATCH = re.compile(r"does not match '.*'$")
_QUOTED = re.compile(r"'([^']*)'")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_-]{0,39}")


def _short(message: str, object_id: str) -> str:
    message = message.removeprefix(f"{object_id}: ")
    message = _DOES_NOT_MATCH.sub("does not match the format the schema requires", message)
    message = _QUOTED.sub(
        lambda m: m.group(0) if _NAME.fullmatch(m.group(1)) else "<value>", message
    )
    return message if len(message) <= _MAX_PROBLEM else message[: _MAX_PROBLEM - 1] + "…"


def problems(obj: Mapping[str, Any]) -> list[str]:
    """Every STIX 2.1 error of one object, as short messages; [] when it is valid."""
    if certainly_valid(obj):
        return []
    if not isinstance(obj, Mapping):
        return ["not a JSON object"]
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not isinstance(obj.get("type"), str):
        return ["an object needs a string 'type' and a string 'id'"]
    try:
        result = _validator()(dict(obj))
    except Exception as error:  # the validator trips on some malformed shapes (an int where
        # it expects a dict): that is a problem of the object, not a failure of the intake
        return [_short(f"cannot be checked ({type(error).__name__}): {error}", object_id)]
    return [_short(str(error), object_id) for error in result.errors]


def bundle_objects(payload: Any) -> list[dict[str, Any]]:
    """The objects of a TAXII 2.1 envelope (``{"objects": [...]}``, optionally with ``more``
    and ``next``) or of a STIX 2.1 bundle; BundleError when it is neither. Each object is only
    checked to be a JSON object here: ``problems`` checks it."""
    if not isinstance(payload, dict):
        raise BundleError("The body must be a JSON object: a STIX bundle or a TAXII envelope")
    if "type" in payload:
        if payload["type"] != "bundle":
            raise BundleError("A STIX body must be a bundle (type 'bundle')")
        bundle_id = payload.get("id")
        if not isinstance(bundle_id, str) or not _BUNDLE_ID.fullmatch(bundle_id):
            raise BundleError("The bundle's id must be bundle--<UUID>")
        allowed = {"type", "id", "objects", "spec_version"}
        if payload.get("spec_version", "2.1") not in ("2.1",):
            raise BundleError("Only STIX 2.1 content is accepted")
    else:
        allowed = {"objects", "more", "next"}
    extra = sorted(set(payload) - allowed)
    if extra:
        raise BundleError(f"Unexpected properties: {', '.join(k[:40] for k in extra[:5])}")
    objects = payload.get("objects", [])
    if not isinstance(objects, list):
        raise BundleError("'objects' must be a list")
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise BundleError(f"objects[{index}] is not a JSON object")
    return objects
