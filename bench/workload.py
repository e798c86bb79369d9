"""What the clients send and with which tokens: the demo credentials, the rotation of
requesting and target countries, and a request body of realistic size."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Credentials:
    countries: tuple[str, ...]
    units: dict[str, str]  # country -> unit token (submits)
    desks: dict[str, tuple[str, ...]]  # country -> contact-point and NCB tokens (listen)
    global_desk: str  # the global desk's token: hears every desk

    @classmethod
    def from_seed(cls, seed: dict[str, Any]) -> Credentials:
        countries = seed["countries"]
        return cls(
            countries=tuple(countries),
            units={code: c["unit"]["token"] for code, c in countries.items()},
            desks={
                code: (*(cp["token"] for cp in c["contact_points"]), c["ncb"]["token"])
                for code, c in countries.items()
            },
            global_desk=seed["global_desk"]["token"],
        )


def route(index: int, countries: tuple[str, ...]) -> tuple[str, str]:
    """The (requesting, target) countries of request ``index``: sources take turns, and each
    source's targets rotate over every other country."""
    n = len(countries)
    source = index % n
    target = (source + 1 + (index // n) % (n - 1)) % n
    return countries[source], countries[target]


def routed_to(target: str, countries: tuple[str, ...], first: int, count: int) -> list[int]:
    """The first ``count`` request indexes from ``first`` on whose route ends at ``target``."""
    indexes = (i for i in itertools.count(first) if route(i, countries)[1] == target)
    return list(itertools.islice(indexes, count))


def desk_tokens(credentials: Credentials, country: str, count: int) -> list[str]:
    """Tokens of ``count`` dashboards of one country's desk: its contact-point and NCB tokens
    take turns (many sockets may share one token)."""
    return list(itertools.islice(itertools.cycle(credentials.desks[country]), count))


def dashboard_plan(credentials: Credentials, count: int) -> list[tuple[str, str]]:
    """(country, token) of ``count`` dashboards: countries take turns, so they are spread
    evenly, and each country's desk tokens take turns among its dashboards."""
    tokens = {code: itertools.cycle(credentials.desks[code]) for code in credentials.countries}
    countries = itertools.cycle(credentials.countries)
    return [(code, next(tokens[code])) for code in itertools.islice(countries, count)]


def request_body(target: str, index: int) -> dict[str, Any]:
    return {
        "type": "preservation",
        "priority": "urgent",
        "target_country": target,
        "headline": "Ransomware negotiation: preserve a mailbox and its logins",
        "subject": f"Preserve mailbox and login records, case BENCH-{index:06d}",
        "details": (
            "Ransomware negotiation mailbox used between 2025-01-03 and 2025-02-11. Please "
            "preserve the mailbox content, subscriber details and login IP addresses pending "
            "a mutual legal assistance request."
        ),
        "identifiers": [
            {"kind": "email", "value": f"negotiator{index}@example.org"},
            {"kind": "ip", "value": "203.0.113.7"},
        ],
        "legal_basis": "Budapest Convention Art. 29",
        "handling_code": "AMBER",
        "onward_use": ["H0"],
    }
