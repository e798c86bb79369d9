"""The request state machine, as one table: for each (state, action), which side may take it
and the state it leads to. Nothing else in the code decides what a request may become.

The target desk (its contact points, its NCB, the global desk) works the request; the
sending agency answers questions, closes, cancels and reopens. ``relay247 lifecycle`` prints
the table, and the README's copy is that print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest
from app.models.enums import RequestAction as A
from app.models.enums import RequestStatus as S
from app.models.enums import Side


@dataclass(frozen=True, slots=True)
class Step:
    side: Side
    to: S


_TARGET, _REQUESTER = Side.TARGET, Side.REQUESTER
# Where nothing is decided yet: the target may still decline, the sender still cancel.
_OPEN = (S.SUBMITTED, S.DELIVERED, S.ACKNOWLEDGED, S.IN_PROGRESS, S.INFO_REQUESTED)

TABLE: dict[tuple[S, A], Step] = {
    # The first receipt by the target side: it reached a person (the `received` frame).
    (S.SUBMITTED, A.RECEIVE): Step(_TARGET, S.DELIVERED),
    (S.SUBMITTED, A.ACKNOWLEDGE): Step(_TARGET, S.ACKNOWLEDGED),
    (S.DELIVERED, A.ACKNOWLEDGE): Step(_TARGET, S.ACKNOWLEDGED),
    (S.ACKNOWLEDGED, A.START): Step(_TARGET, S.IN_PROGRESS),
    # An emergency is often answered (or questioned) at once: no need to "start" first.
    (S.ACKNOWLEDGED, A.REQUEST_INFO): Step(_TARGET, S.INFO_REQUESTED),
    (S.IN_PROGRESS, A.REQUEST_INFO): Step(_TARGET, S.INFO_REQUESTED),
    (S.INFO_REQUESTED, A.PROVIDE_INFO): Step(_REQUESTER, S.IN_PROGRESS),
    (S.ACKNOWLEDGED, A.RESPOND): Step(_TARGET, S.RESPONDED),
    (S.IN_PROGRESS, A.RESPOND): Step(_TARGET, S.RESPONDED),
    (S.RESPONDED, A.CLOSE): Step(_REQUESTER, S.CLOSED),
    # The answer was not enough: back to work (from closed, within the reopen window).
    (S.RESPONDED, A.REOPEN): Step(_REQUESTER, S.IN_PROGRESS),
    (S.CLOSED, A.REOPEN): Step(_REQUESTER, S.IN_PROGRESS),
    **{(state, A.DECLINE): Step(_TARGET, S.DECLINED) for state in _OPEN},
    **{(state, A.CANCEL): Step(_REQUESTER, S.CANCELLED) for state in _OPEN},
}

# Actions that must say why: the reason is kept in the history.
REASON_REQUIRED = frozenset({A.DECLINE, A.CANCEL, A.REQUEST_INFO, A.REOPEN})

# States in which nothing more happens to a request, but a reopen of a closed one.
FINAL = frozenset({S.CLOSED, S.DECLINED, S.CANCELLED})


# Each action belongs to one side (the table never gives one action to both).
TAKEN_BY: dict[A, Side] = {action: rule.side for (_, action), rule in TABLE.items()}
# Who may act for a side, in app/identity/policy.py; acknowledging has a rule of its own.
PERMISSION: dict[A, policy.Action] = {
    action: (policy.Action.ACT_AS_TARGET if side is Side.TARGET else policy.Action.ACT_AS_REQUESTER)
    for action, side in TAKEN_BY.items()
} | {A.ACKNOWLEDGE: policy.Action.ACKNOWLEDGE_REQUEST}


def step(state: S, action: A) -> Step | None:
    return TABLE.get((state, action))


def allowed(state: S, side: Side | None = None) -> list[A]:
    """The actions that may be taken in this state (by this side), in the table's order."""
    return [
        action
        for (from_state, action), rule in TABLE.items()
        if from_state == state and (side is None or rule.side == side)
    ]


def actions_of(side: Side) -> frozenset[A]:
    return frozenset(action for (_, action), rule in TABLE.items() if rule.side == side)


def is_final(state: S) -> bool:
    return state in FINAL


def reopen_ends(request: CooperationRequest, window: timedelta) -> datetime | None:
    """When the sender's chance to reopen a closed request ends (None: not closed);
    ``window``: RELAY247_REOPEN_WINDOW."""
    if request.status is not S.CLOSED or request.closed_at is None:
        return None
    return request.closed_at + window


def allowed_now(
    request: CooperationRequest, side: Side, now: datetime, reopen_window: timedelta
) -> list[A]:
    """What this side may do now: the table's actions, less a reopen past its window; nothing
    once the content was purged."""
    if request.purged_at is not None:
        return []
    ends = reopen_ends(request, reopen_window)
    return [
        action
        for action in allowed(request.status, side)
        if not (action is A.REOPEN and ends is not None and now > ends)
    ]


def allowed_for(
    actor: Actor,
    request: CooperationRequest,
    side: Side | None,
    owner: policy.Owner,
    now: datetime,
    reopen_window: timedelta,
) -> list[A]:
    """What this actor may do now, acting for ``side``: what a page offers, and nothing else."""
    if side is None:
        return []
    return [
        action
        for action in allowed_now(request, side, now, reopen_window)
        if policy.permits(actor, PERMISSION[action], owner)
    ]


def render_table() -> str:
    """The table for people (the README), one row per (state, action)."""
    lines = ["| state | action | by | leads to |", "|---|---|---|---|"]
    for (state, action), rule in TABLE.items():
        reason = " (reason required)" if action in REASON_REQUIRED else ""
        lines.append(
            f"| {state.value} | {action.value}{reason} | {rule.side.value} | {rule.to.value} |"
        )
    return "\n".join(lines) + "\n"
