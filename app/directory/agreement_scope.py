"""The scope rule of access agreements, pure: whether an agency's agreements let it send a
given request now, and if not, why. No database: the submit path loads the agreements
(:func:`app.directory.agreements.terms_of_agency`) and calls :func:`refusal` inside
its transaction, with the database clock as ``now``.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.models import AccessAgreement
from app.models.enums import Priority, RequestType


class RefusalReason(enum.StrEnum):
    NO_AGREEMENT = "no_agreement"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    ENDED = "ended"
    TYPE_NOT_IN_SCOPE = "type_not_in_scope"
    TARGET_NOT_IN_SCOPE = "target_not_in_scope"
    PRIORITY_NOT_IN_SCOPE = "priority_not_in_scope"


# When agreements fail on as many points, the one still in force is the most useful to name
# ("it does not cover traffic_data" beats "an old one was ended"), then one that will start.
_TIME_RANK = {
    None: 0,
    RefusalReason.NOT_YET_VALID: 1,
    RefusalReason.EXPIRED: 2,
    RefusalReason.ENDED: 3,
}


@dataclass(frozen=True, slots=True)
class AgreementTerms:
    """What decides whether an agreement covers a request. A scope of None means all."""

    request_types: frozenset[str] | None
    target_countries: frozenset[str] | None
    priorities: frozenset[str] | None
    valid_from: datetime
    valid_until: datetime | None = None
    ended_at: datetime | None = None
    agreement_id: uuid.UUID | None = None  # named in the refusal's detail

    @classmethod
    def of(cls, agreement: AccessAgreement) -> AgreementTerms:
        def scope(values: list[str] | None) -> frozenset[str] | None:
            return None if values is None else frozenset(values)

        return cls(
            request_types=scope(agreement.request_types),
            target_countries=scope(agreement.target_countries),
            priorities=scope(agreement.priorities),
            valid_from=agreement.valid_from,
            valid_until=agreement.valid_until,
            ended_at=agreement.ended_at,
            agreement_id=agreement.id,
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: RefusalReason
    detail: str  # for the sender: what is out of scope, or out of time
    agreement_id: uuid.UUID | None = None  # the closest agreement, when there is one


def _time_failure(terms: AgreementTerms, now: datetime) -> tuple[RefusalReason, str] | None:
    if terms.ended_at is not None and terms.ended_at <= now:
        return RefusalReason.ENDED, f"was ended at {terms.ended_at.isoformat()}"
    if terms.valid_from > now:
        return RefusalReason.NOT_YET_VALID, f"is valid only from {terms.valid_from.isoformat()}"
    if terms.valid_until is not None and terms.valid_until <= now:
        return RefusalReason.EXPIRED, f"expired at {terms.valid_until.isoformat()}"
    return None


def _scope_failures(
    terms: AgreementTerms, *, request_type: str, target_country: str, priority: str
) -> list[tuple[RefusalReason, str]]:
    checks = (
        (RefusalReason.TYPE_NOT_IN_SCOPE, "request type", request_type, terms.request_types),
        (
            RefusalReason.TARGET_NOT_IN_SCOPE,
            "target country",
            target_country,
            terms.target_countries,
        ),
        (RefusalReason.PRIORITY_NOT_IN_SCOPE, "priority", priority, terms.priorities),
    )
    return [
        (reason, f"does not cover {what} {value} (it covers {', '.join(sorted(scope))})")
        for reason, what, value, scope in checks
        if scope is not None and value not in scope
    ]


def refusal(
    agreements: Sequence[AgreementTerms],
    *,
    request_type: RequestType,
    target_country: str,
    priority: Priority,
    now: datetime,
) -> Refusal | None:
    """None when at least one agreement covers a request of this type, to this country, at
    this priority, at ``now``; else why not, from the agreement closest to covering it (the
    one that fails on the fewest points)."""
    if not agreements:
        return Refusal(
            RefusalReason.NO_AGREEMENT,
            "your agency has no access agreement to send requests: ask your country's NCB",
        )
    closest: tuple[tuple[int, int], AgreementTerms, list[tuple[RefusalReason, str]]] | None = None
    for terms in agreements:
        timing = _time_failure(terms, now)
        failures = ([timing] if timing else []) + _scope_failures(
            terms,
            request_type=str(request_type),
            target_country=target_country,
            priority=str(priority),
        )
        if not failures:
            return None
        rank = (len(failures), _TIME_RANK[timing[0] if timing else None])
        if closest is None or rank < closest[0]:  # strict: the first of equals is kept
            closest = (rank, terms, failures)
    assert closest is not None  # agreements is not empty and none covered the request
    _, terms, failures = closest
    which = f" (access agreement {terms.agreement_id})" if terms.agreement_id else ""
    return Refusal(
        failures[0][0],
        f"no access agreement of your agency covers this request; the closest{which} "
        + " and ".join(phrase for _, phrase in failures),
        terms.agreement_id,
    )


def share_refusal(
    agreements: Sequence[AgreementTerms], *, audience: Sequence[str] | None, now: datetime
) -> Refusal | None:
    """None when an agreement in force lets a unit share data with every country of
    ``audience`` (None: the whole network, which takes an agreement without a list of target
    countries); else why not. Sharing is cooperation with those countries: a unit shares with
    the countries it may send requests to, whatever the request's type or priority."""
    if not agreements:
        return Refusal(
            RefusalReason.NO_AGREEMENT,
            "your agency has no access agreement to share data: ask your country's NCB",
        )
    in_force = [terms for terms in agreements if _time_failure(terms, now) is None]
    if not in_force:
        reason, phrase = min(
            (failure for terms in agreements if (failure := _time_failure(terms, now))),
            key=lambda failure: _TIME_RANK[failure[0]],
        )
        return Refusal(reason, f"no access agreement of your agency is in force: one {phrase}")
    wanted = None if audience is None else set(audience)
    for terms in in_force:
        if terms.target_countries is None or (
            wanted is not None and wanted <= terms.target_countries
        ):
            return None
    covered = set().union(*(terms.target_countries or set() for terms in in_force))
    outside = (
        "the whole network"
        if wanted is None
        else ", ".join(sorted(wanted - covered)) or ("these countries together")
    )
    return Refusal(
        RefusalReason.TARGET_NOT_IN_SCOPE,
        f"no access agreement of your agency in force covers sharing with {outside} "
        f"(they cover {', '.join(sorted(covered))})",
    )


def covering(
    agreements: Sequence[AgreementTerms],
    *,
    request_type: RequestType,
    target_country: str,
    priority: Priority,
    now: datetime,
) -> list[uuid.UUID]:
    """The ids of the agreements that cover this request at ``now`` (those that let
    :func:`refusal` answer None): four-eyes asks whether one of them requires approval."""
    return [
        terms.agreement_id
        for terms in agreements
        if terms.agreement_id is not None
        and _time_failure(terms, now) is None
        and not _scope_failures(
            terms,
            request_type=str(request_type),
            target_country=target_country,
            priority=str(priority),
        )
    ]
