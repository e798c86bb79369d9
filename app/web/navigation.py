"""What each role's pages link to, and which pages offer the alert switch. The pages call the
API, which decides what each person sees: a link here is a convenience, never a permission."""

from __future__ import annotations

from dataclasses import dataclass

from app.identity import policy
from app.models.enums import Role
from app.web.security import WEB_PREFIX

HOME = f"{WEB_PREFIX}/"


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    label: str


# What each role works from.
_ROSTER = Link(f"{WEB_PREFIX}/roster", "Roster")
_ESCALATION = Link(f"{WEB_PREFIX}/escalation", "Escalation policy")
# The global desk's overview of the network; to a desk or an NCB, the same of its country
# (GET /v1/requests shows each only what it may see).
_OVERVIEW = Link(f"{WEB_PREFIX}/network", "Overdue and escalated")
# Every role that sees requests (auditors: their metadata) finds any of them there.
ALL_REQUESTS = Link(f"{WEB_PREFIX}/requests", "All requests")
# Shared cybercrime data: what a member country reads, what the global desk triages, and a
# private partner's own submissions (a partner sees nothing else of the network).
_SHARED_DATA = Link(f"{WEB_PREFIX}/shared-data", "Shared data")
# Readiness drills: the global desk's of the network, an NCB's of its own desk.
_DRILLS = Link(f"{WEB_PREFIX}/drills", "Drills")
_TRIAGE = Link(f"{WEB_PREFIX}/triage", "Triage")
_SUBMISSIONS = Link(f"{WEB_PREFIX}/submissions", "Submissions")
# Four-eyes: emergency disclosures held for a second officer of the sending side.
_APPROVALS = Link(f"{WEB_PREFIX}/approvals", "Approvals")
# Response figures: the global desk's of the network, an NCB's of its country both ways.
_ANALYTICS = Link(f"{WEB_PREFIX}/analytics", "Analytics")
# Cyber analytical reports: the global desk's of the network and each country, an NCB's own.
_REPORTS = Link(f"{WEB_PREFIX}/reports", "Reports")
_NAVIGATION: dict[Role, tuple[Link, ...]] = {
    Role.CONTACT_POINT: (Link(HOME, "Queue"), ALL_REQUESTS, _ROSTER, _OVERVIEW, _SHARED_DATA),
    Role.NCB: (
        Link(HOME, "Queue"),
        ALL_REQUESTS,
        _ROSTER,
        _ESCALATION,
        Link(f"{WEB_PREFIX}/agreements", "Agreements"),
        _APPROVALS,
        _OVERVIEW,
        _DRILLS,
        _ANALYTICS,
        _REPORTS,
        _SHARED_DATA,
    ),
    Role.GS: (
        Link(HOME, "Queue"),
        ALL_REQUESTS,
        _OVERVIEW,
        _DRILLS,
        _ANALYTICS,
        _REPORTS,
        _ESCALATION,
        _TRIAGE,
        _SHARED_DATA,
    ),
    Role.UNIT: (Link(HOME, "Sent requests"), ALL_REQUESTS, _APPROVALS, _SHARED_DATA),
    Role.AUDITOR: (Link(f"{WEB_PREFIX}/audit", "Audit trail"), ALL_REQUESTS),
    Role.NATIONAL_AUDITOR: (Link(f"{WEB_PREFIX}/audit", "Audit trail"), ALL_REQUESTS),
    Role.ADMIN: (Link(HOME, "Queue"),),
    Role.PARTNER: (_SUBMISSIONS,),
}


# Every signed-in person manages where they are alerted, but a partner, which is alerted of
# nothing (app/identity/policy.py: MANAGE_CONTACT_METHODS).
CONTACTS = Link(f"{WEB_PREFIX}/contacts", "Contact methods")
# The roles some event alerts (app/alerts/rules.py): their pages offer the alert switch.
_RECEIVES_WORK = frozenset({Role.CONTACT_POINT, Role.NCB, Role.GS, Role.UNIT, Role.ADMIN})


def links(role: Role) -> tuple[Link, ...]:
    """The sections of ``role``'s navigation, in order."""
    alerted = bool(policy.RULES[policy.Action.MANAGE_CONTACT_METHODS].get(role))
    return (*_NAVIGATION.get(role, ()), *((CONTACTS,) if alerted else ()))


def receives_work(role: Role) -> bool:
    return role in _RECEIVES_WORK


def landing(role: Role) -> str:
    """Where ``role`` starts: the queue, or (who has none: an auditor) its first section."""
    sections = _NAVIGATION.get(role)
    return sections[0].href if sections else HOME
