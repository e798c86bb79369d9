"""The request state machine, as one table: for each (state, action), which side may take it
and the state it leads to; and for each action, what taking it does besides (``EFFECTS``: the
times it stamps, the response clock, the deadlines it makes moot, its names in the audit trail
and on the sockets). Nothing else in the code decides what a request may become, nor restates
what a step does: the actions (actions.py) apply it, the deadline worker reads it to tell a
moot deadline, and the dashboard's pages get it as JSON (app/web/pages.py).

The target desk (its contact points, its NCB, the global desk) works the request; the
sending agency answers questions, closes, cancels and reopens. ``relay247 lifecycle`` prints
the table, and the README's copy is that print.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.deadlines.rows import ALL_KINDS, ESCALATION, RESPONSE_CLOCK
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest, DeadlineKind
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

# States in which nothing more happens to a request, but a reopen of a closed one.
FINAL = frozenset({S.CLOSED, S.DECLINED, S.CANCELLED})


# --- what each action does ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stamp:
    """A time the step writes on the request, and who took it (the columns' names, taken from
    the model's attributes so that a wrong one fails at import)."""

    at: str
    by: str | None = None
    # Kept from the first time: what a later step of the same kind must not move.
    first_only: bool = False

    def on(self, request: CooperationRequest) -> bool:
        return getattr(request, self.at) is not None

    def write(self, request: CooperationRequest, at: datetime, by: uuid.UUID) -> None:
        if self.first_only and self.on(request):
            return
        setattr(request, self.at, at)
        if self.by is not None:
            setattr(request, self.by, by)


class Clock(enum.Enum):
    """What a step does to the legal response clock (app/deadlines/rows.py): it does not run
    while the request waits on its requester, and its rows stay cancelled until it resumes."""

    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class Effects:
    """What taking an action does besides moving the request to the table's state."""

    # The audit trail's name for the change.
    audit: str
    # Dashboards listen for delivered and acknowledged by name (the requester waits for both);
    # every other change is an update.
    event: str = "request.updated"
    # It must say why: the reason is kept in the history.
    reason_required: bool = False
    stamp: Stamp | None = None
    clock: Clock | None = None
    # Someone acted: the deadlines that waited for it. A final state cancels every kind.
    cancels: frozenset[DeadlineKind] = frozenset()


_R = CooperationRequest
EFFECTS: dict[A, Effects] = {
    A.RECEIVE: Effects(
        "request.delivered",
        event="request.delivered",
        stamp=Stamp(_R.delivered_at.key, _R.delivered_by.key),
    ),
    A.ACKNOWLEDGE: Effects(
        "request.acknowledged",
        event="request.acknowledged",
        stamp=Stamp(_R.acknowledged_at.key, _R.acknowledged_by.key),
        cancels=ESCALATION,
    ),
    A.START: Effects("request.started"),
    A.REQUEST_INFO: Effects("request.info_requested", reason_required=True, clock=Clock.PAUSE),
    A.PROVIDE_INFO: Effects("request.info_provided", clock=Clock.RESUME),
    # The first answer is what the time to respond counts to.
    A.RESPOND: Effects(
        "request.responded",
        stamp=Stamp(_R.responded_at.key, first_only=True),
        cancels=RESPONSE_CLOCK,
    ),
    A.DECLINE: Effects("request.declined", reason_required=True),
    A.CLOSE: Effects("request.closed"),
    A.CANCEL: Effects("request.cancelled", reason_required=True),
    A.REOPEN: Effects("request.reopened", reason_required=True),
}

REASON_REQUIRED = frozenset(
    action for action, effects in EFFECTS.items() if effects.reason_required
)


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


def states_allowing(action: A) -> list[S]:
    """The states this action may be taken in, in the table's order."""
    return [state for (state, taken), _ in TABLE.items() if taken is action]


def is_final(state: S) -> bool:
    return state in FINAL


def ends_unanswered() -> list[A]:
    """The actions that end a request without an answer (decline, cancel): a page asks
    before taking them, as the serious steps they are."""
    ended = FINAL - {S.CLOSED}
    return list(dict.fromkeys(action for (_, action), rule in TABLE.items() if rule.to in ended))


def cancels(action: A, to: S) -> frozenset[DeadlineKind]:
    """The pending deadlines a step makes moot: all of them when it ends the request."""
    return ALL_KINDS if is_final(to) else EFFECTS[action].cancels


def moot_kinds(request: CooperationRequest) -> frozenset[DeadlineKind]:
    """The kinds of deadline that no longer apply to the request as it stands: every kind once
    it is final or purged; else the kinds cancelled by each step whose stamp it bears, and the
    response clock's while it is paused. The steps cancel the rows themselves; this is the
    worker's net under them (app/deadlines/firing.py)."""
    if request.purged_at is not None or is_final(request.status):
        return ALL_KINDS
    moot: set[DeadlineKind] = set()
    for effects in EFFECTS.values():
        if effects.stamp is not None and effects.stamp.on(request):
            moot |= effects.cancels
    if request.response_paused_at is not None:
        moot |= RESPONSE_CLOCK
    return frozenset(moot)


# --- what no longer may be done, whatever the table says ------------------------------------


def reopen_ends(request: CooperationRequest, window: timedelta) -> datetime | None:
    """When the sender's chance to reopen a closed request ends (None: not closed);
    ``window``: RELAY247_REOPEN_WINDOW."""
    if request.status is not S.CLOSED or request.closed_at is None:
        return None
    return request.closed_at + window


def purge_refusal(request: CooperationRequest) -> str | None:
    """Why a purged request takes no action (None: it was not purged)."""
    if request.purged_at is None:
        return None
    return (
        f"the request's content was purged at {request.purged_at.isoformat()}: nothing "
        "more happens to it"
    )


def reopen_refusal(
    request: CooperationRequest, action: A, now: datetime, window: timedelta
) -> str | None:
    """Why this action is a reopen too late (None: it is not)."""
    ends = reopen_ends(request, window)
    if action is not A.REOPEN or ends is None or now <= ends:
        return None
    return (
        f"a closed request may be reopened until {ends.isoformat()} only "
        f"({window} after it was closed)"
    )


def refusal(
    request: CooperationRequest, action: A, now: datetime, reopen_window: timedelta
) -> str | None:
    """Why an action the table allows in the request's state may not be taken now."""
    return purge_refusal(request) or reopen_refusal(request, action, now, reopen_window)


def allowed_now(
    request: CooperationRequest, side: Side, now: datetime, reopen_window: timedelta
) -> list[A]:
    """What this side may do now: the table's actions that nothing refuses (a reopen past its
    window; any action once the content was purged)."""
    return [
        action
        for action in allowed(request.status, side)
        if refusal(request, action, now, reopen_window) is None
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
