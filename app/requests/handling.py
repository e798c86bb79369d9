"""Handling rules that travel with the data: TLP 2.0 and the H0-H3 restrictions on onward use.

Each request, message and file carries a handling code and its restrictions. An item may be
stricter than its request, never looser. Who may read an item's content follows from its code
alone, through app/identity/policy.py (one Action per reach): TLP:CLEAR, GREEN and AMBER
content is for both sides of the request (the target desk, its NCB, the sender, the global desk);
AMBER+STRICT for the receiving organisation only (the target desk, not its NCB); RED for
named recipients: the sending agency, the one contact point holding the request (whoever holds
it now: it follows a handover or an escalation) and the global desk. Auditors read no content
at all.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from app.core.errors import InvalidInputError
from app.identity import policy
from app.identity.auth import Actor
from app.models.enums import HandlingCode, OnwardUse

# Least to most restrictive (TLP 2.0).
_STRICTNESS = {
    HandlingCode.CLEAR: 0,
    HandlingCode.GREEN: 1,
    HandlingCode.AMBER: 2,
    HandlingCode.AMBER_STRICT: 3,
    HandlingCode.RED: 4,
}

CONTENT_ACTION: dict[HandlingCode, policy.Action] = {
    HandlingCode.CLEAR: policy.Action.READ_REQUEST_CONTENT,
    HandlingCode.GREEN: policy.Action.READ_REQUEST_CONTENT,
    HandlingCode.AMBER: policy.Action.READ_REQUEST_CONTENT,
    HandlingCode.AMBER_STRICT: policy.Action.READ_STRICT_CONTENT,
    HandlingCode.RED: policy.Action.READ_RED_CONTENT,
}


# Who reads an item of each code, in words: what a refused reader is told.
READERS: dict[HandlingCode, str] = {
    HandlingCode.CLEAR: "both sides of the request",
    HandlingCode.GREEN: "both sides of the request",
    HandlingCode.AMBER: "both sides of the request",
    HandlingCode.AMBER_STRICT: (
        "the sending agency, the target's contact points and the global desk"
    ),
    HandlingCode.RED: (
        "the sending agency, the contact point holding the request and the global desk"
    ),
}


def may_read(actor: Actor, code: HandlingCode, request_owner: policy.Owner) -> bool:
    """Whether the actor may read the content of an item with this code, in a request of
    this owner (app.requests.owner_of)."""
    return policy.permits(actor, CONTENT_ACTION[code], request_owner)


def stricter_or_equal(code: HandlingCode, than: HandlingCode) -> bool:
    return _STRICTNESS[code] >= _STRICTNESS[than]


@dataclass(frozen=True, slots=True)
class ItemHandling:
    code: HandlingCode
    onward_use: list[OnwardUse]  # each once, H0 to H3
    note: str | None


def item_handling(
    *,
    code: HandlingCode | None,
    onward_use: Collection[OnwardUse] | None,
    note: str | None,
    request_code: HandlingCode,
    request_onward_use: Collection[OnwardUse],
    request_note: str | None,
) -> ItemHandling:
    """The handling of a new item (message, file) of a request: what it states, else its
    request's (the request's H3 statement too, when the item keeps H3), checked."""
    code = code or request_code
    # OnwardUse(...): a request's restrictions come from an ARRAY column, as plain text.
    uses = sorted(
        {OnwardUse(use) for use in (onward_use if onward_use is not None else request_onward_use)}
    )
    if note is None and OnwardUse.H3 in uses:
        note = request_note
    check_item_handling(
        code=code,
        onward_use=uses,
        note=note,
        request_code=request_code,
        request_onward_use=request_onward_use,
    )
    return ItemHandling(code, uses, note)


def check_item_handling(
    *,
    code: HandlingCode,
    onward_use: Collection[OnwardUse],
    note: str | None,
    request_code: HandlingCode,
    request_onward_use: Collection[OnwardUse],
) -> None:
    """An item (message, file) of a request may be stricter than the request, never looser:
    a code at least as strict, and at least the request's restrictions."""
    if not stricter_or_equal(code, request_code):
        raise InvalidInputError(
            f"handling_code TLP:{code.value} is looser than the request's "
            f"TLP:{request_code.value}: an item may be stricter than its request, never looser",
            field="handling_code",
        )
    missing = sorted(set(request_onward_use) - set(onward_use))
    if missing:
        raise InvalidInputError(
            f"onward_use drops the request's restrictions {', '.join(missing)}: an item keeps "
            "every restriction of its request",
            field="onward_use",
        )
    check_note(onward_use, note)


def check_note(onward_use: Collection[OnwardUse], note: str | None) -> None:
    """H3 means "another restriction, stated": the statement is required with it."""
    if OnwardUse.H3 in onward_use and not note:
        raise InvalidInputError(
            "onward_use H3 needs handling_note: the restriction it stands for, in words",
            field="handling_note",
        )
