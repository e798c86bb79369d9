"""The request state machine: every status change goes through :func:`check_transition`."""

from __future__ import annotations

from app.errors import ConflictError
from app.models.enums import RequestStatus as S

_CLOSABLE = frozenset({S.DECLINED, S.CANCELLED})

TRANSITIONS: dict[S, frozenset[S]] = {
    S.SUBMITTED: frozenset({S.DELIVERED, S.ACKNOWLEDGED}) | _CLOSABLE,
    S.DELIVERED: frozenset({S.ACKNOWLEDGED}) | _CLOSABLE,
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS}) | _CLOSABLE,
    S.IN_PROGRESS: frozenset({S.INFO_REQUESTED, S.RESPONDED}) | _CLOSABLE,
    S.INFO_REQUESTED: frozenset({S.IN_PROGRESS}) | _CLOSABLE,
    S.RESPONDED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.DECLINED: frozenset(),
    S.CANCELLED: frozenset(),
}


def check_transition(current: S, new: S) -> None:
    if new not in TRANSITIONS[current]:
        raise ConflictError(
            f"a request that is {current.value} cannot become {new.value}",
            current_status=current.value,
        )
