"""The scope rule of access agreements, on its own: no database, no server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.directory.agreements import AgreementTerms, RefusalReason, refusal
from app.models.enums import Priority, RequestType


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """No database here: this replaces the suite's per-test truncation."""


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def terms(
    *,
    types: set[str] | None = None,
    targets: set[str] | None = None,
    priorities: set[str] | None = None,
    valid_from: datetime = NOW - HOUR,
    valid_until: datetime | None = None,
    ended_at: datetime | None = None,
) -> AgreementTerms:
    return AgreementTerms(
        request_types=None if types is None else frozenset(types),
        target_countries=None if targets is None else frozenset(targets),
        priorities=None if priorities is None else frozenset(priorities),
        valid_from=valid_from,
        valid_until=valid_until,
        ended_at=ended_at,
        agreement_id=uuid.uuid4(),
    )


def check(
    *agreements: AgreementTerms,
    request_type: RequestType = RequestType.PRESERVATION,
    target: str = "DE",
    priority: Priority = Priority.URGENT,
    now: datetime = NOW,
) -> RefusalReason | None:
    refused = refusal(
        agreements, request_type=request_type, target_country=target, priority=priority, now=now
    )
    return refused.reason if refused else None


def test_an_all_scope_agreement_in_force_covers_anything() -> None:
    assert check(terms()) is None
    assert check(terms(), request_type=RequestType.INCIDENT_SUPPORT, target="JP") is None


def test_no_agreement_at_all() -> None:
    refused = refusal(
        [],
        request_type=RequestType.PRESERVATION,
        target_country="DE",
        priority=Priority.URGENT,
        now=NOW,
    )
    assert refused is not None
    assert refused.reason is RefusalReason.NO_AGREEMENT
    assert refused.agreement_id is None
    assert "NCB" in refused.detail


@pytest.mark.parametrize(
    ("agreement", "reason"),
    [
        (terms(valid_from=NOW + HOUR), RefusalReason.NOT_YET_VALID),
        (terms(valid_from=NOW), None),  # valid from this very instant
        (terms(valid_until=NOW), RefusalReason.EXPIRED),  # valid until, not through, the end
        (terms(valid_until=NOW + HOUR), None),
        (terms(ended_at=NOW), RefusalReason.ENDED),
        (terms(ended_at=NOW - HOUR, valid_until=NOW - HOUR), RefusalReason.ENDED),
        (terms(types={"traffic_data"}), RefusalReason.TYPE_NOT_IN_SCOPE),
        (terms(targets={"FR", "JP"}), RefusalReason.TARGET_NOT_IN_SCOPE),
        (terms(priorities={"routine"}), RefusalReason.PRIORITY_NOT_IN_SCOPE),
        (terms(types={"preservation"}, targets={"DE"}, priorities={"urgent"}), None),
    ],
    ids=[
        "scheduled",
        "from now",
        "until now",
        "until later",
        "ended",
        "ended and expired",
        "type",
        "target",
        "priority",
        "exact scope",
    ],
)
def test_one_agreement(agreement: AgreementTerms, reason: RefusalReason | None) -> None:
    assert check(agreement) is reason


def test_one_covering_agreement_among_others_is_enough() -> None:
    assert (
        check(
            terms(ended_at=NOW - HOUR),
            terms(types={"traffic_data"}),
            terms(types={"preservation"}, targets={"DE"}),
        )
        is None
    )


def test_the_detail_names_what_is_out_of_scope_and_what_is_covered() -> None:
    agreement = terms(types={"traffic_data", "subscriber_info"}, targets={"FR", "JP"})
    refused = refusal(
        [agreement],
        request_type=RequestType.PRESERVATION,
        target_country="DE",
        priority=Priority.URGENT,
        now=NOW,
    )
    assert refused is not None
    assert refused.reason is RefusalReason.TYPE_NOT_IN_SCOPE
    assert refused.agreement_id == agreement.agreement_id
    assert str(agreement.agreement_id) in refused.detail
    assert "does not cover request type preservation (it covers subscriber_info, traffic_data)" in (
        refused.detail
    )
    assert "does not cover target country DE (it covers FR, JP)" in refused.detail


def test_the_reason_comes_from_the_agreement_that_fails_on_fewest_points() -> None:
    far = terms(types={"traffic_data"}, targets={"FR"}, priorities={"routine"})
    near = terms(types={"preservation"}, targets={"FR"})
    refused = refusal(
        [far, near],
        request_type=RequestType.PRESERVATION,
        target_country="DE",
        priority=Priority.URGENT,
        now=NOW,
    )
    assert refused is not None
    assert refused.reason is RefusalReason.TARGET_NOT_IN_SCOPE
    assert refused.agreement_id == near.agreement_id


def test_on_a_tie_an_agreement_in_force_is_named_before_a_past_one() -> None:
    # An old all-scope agreement was ended; the current one does not cover traffic data.
    # "It does not cover traffic_data" is what the sender needs to hear.
    old = terms(ended_at=NOW - HOUR)
    current = terms(types={"preservation"})
    for order in ([old, current], [current, old]):
        refused = refusal(
            order,
            request_type=RequestType.TRAFFIC_DATA,
            target_country="DE",
            priority=Priority.URGENT,
            now=NOW,
        )
        assert refused is not None
        assert refused.reason is RefusalReason.TYPE_NOT_IN_SCOPE
        assert refused.agreement_id == current.agreement_id


def test_on_a_tie_a_scheduled_agreement_is_named_before_an_expired_or_ended_one() -> None:
    expired = terms(valid_from=NOW - 3 * HOUR, valid_until=NOW - HOUR)
    ended = terms(ended_at=NOW - HOUR)
    scheduled = terms(valid_from=NOW + HOUR)
    assert check(ended, expired, scheduled) is RefusalReason.NOT_YET_VALID
    assert check(ended, expired) is RefusalReason.EXPIRED


def test_a_time_failure_is_the_reason_when_the_closest_agreement_also_has_scope_failures() -> None:
    refused = refusal(
        [terms(valid_until=NOW - HOUR, priorities={"routine"})],
        request_type=RequestType.PRESERVATION,
        target_country="DE",
        priority=Priority.URGENT,
        now=NOW,
    )
    assert refused is not None
    assert refused.reason is RefusalReason.EXPIRED
    assert "expired at 2026-11-22T11:00:00+00:00" in refused.detail
    assert "does not cover priority urgent" in refused.detail


def test_terms_without_an_id_still_explain() -> None:
    anonymous = AgreementTerms(
        request_types=frozenset({"traffic_data"}),
        target_countries=None,
        priorities=None,
        valid_from=NOW - HOUR,
    )
    refused = refusal(
        [anonymous],
        request_type=RequestType.PRESERVATION,
        target_country="DE",
        priority=Priority.URGENT,
        now=NOW,
    )
    assert refused is not None
    assert refused.agreement_id is None
    assert refused.detail == (
        "no access agreement of your agency covers this request; the closest does not cover "
        "request type preservation (it covers traffic_data)"
    )
