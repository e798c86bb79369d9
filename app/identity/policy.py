"""Who may do what to which object: the whole authorization model, as data.

A rule gives, for an action, each role's *scopes*: how the object must relate to the caller.
Every route and every WebSocket frame asks :func:`require` (one object) or :func:`where` (a
list, as a SQL condition); nothing else in the code decides who may do what. ``relay247
policy`` prints the table, and docs/authorization.md is that print (a test keeps them equal).

An object is described by its :class:`Owner`: the country it belongs to, the agency and the
principal it belongs to. A row of an owned model says it through the columns its model
declares (``owner_columns``, app/models/ownership.py): :func:`permits` reads them on the row
and :func:`where` in SQL, so the two cannot disagree, and a model that declares none cannot
be asked about. A request belongs to its target country and to its sending agency. What
belongs to the General Secretariat (its agency, its people) belongs to no country: only an
``any`` scope reaches it, so no NCB manages the global desk.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from app.core.errors import ForbiddenError
from app.identity.auth import Actor
from app.models.base import Base
from app.models.enums import Role
from app.models.ownership import OwnerColumns


class Scope(enum.StrEnum):
    ANY = "any"
    OWN_COUNTRY = "own country"  # the object's country is the caller's
    OWN_AGENCY = "own agency"  # the object's agency is the caller's
    SELF = "self"  # the object is the caller, or belongs to it (its tokens, its channel)
    SENDING_COUNTRY = "sending country"  # a request sent from the caller's country
    HOLDER = "holder"  # a request assigned to the caller: the contact point holding it


class Action(enum.StrEnum):
    # Requests (a request's country is its target; its agency the sender).
    SUBMIT_REQUEST = "submit a request"
    READ_REQUEST = "see a request's metadata"
    READ_REQUEST_CONTENT = "read a request's content (TLP:CLEAR, GREEN, AMBER)"
    READ_STRICT_CONTENT = "read TLP:AMBER+STRICT content"
    READ_RED_CONTENT = "read TLP:RED content"
    ACKNOWLEDGE_REQUEST = "acknowledge a request"
    ASSIGN_REQUEST = "hand a request to a contact point"
    ACT_AS_TARGET = "act on a request as its target desk (start, ask, respond, decline)"
    ACT_AS_REQUESTER = "act on a request as its sender (answer, close, cancel, reopen)"
    TAKE_PART = "write in a request's thread, add files to it"
    PERMIT_RESHARE = "permit its own H2 file to be re-shared into another request"
    HOLD_REQUEST = "set and lift a legal hold on a request"
    READ_RECEIPTS = "get the service's signed receipts of a request's stages (requester side)"
    RECEIVE_PUSHES = "receive pushes on a WebSocket"
    # Readiness drills (app/drills/): a drill belongs to the drilled country.
    SCHEDULE_DRILL = "schedule and cancel readiness drills of a desk"
    READ_DRILLS = "see readiness drills and their results"
    # Four-eyes (app/approvals/): a held emergency disclosure belongs to its sending agency
    # and was sent from its country. Never one's own: app/approvals/rules.py adds that.
    READ_APPROVALS = "see emergency disclosures held for approval, with their content"
    DECIDE_APPROVAL = "approve or refuse an emergency disclosure held for approval"
    # Cyber analytical reports (app/reports/): a country's report belongs to that country, the
    # network's to none (so only an ``any`` scope, the global desk's, reaches it).
    GENERATE_REPORT = "generate a cyber analytical report on demand"
    READ_REPORTS = "list and download cyber analytical reports"
    # The directory.
    READ_DIRECTORY = "read the directory (countries, agencies, profiles, policies)"
    READ_DESK_CONTACTS = "see a desk's phone and e-mail"
    READ_PEOPLE = "see people: principals, their contact details, who is on duty"
    ADD_COUNTRY = "add a country to the network"
    MANAGE_COUNTRY = "change a country's profile and escalation policy"
    MANAGE_DEFAULT_POLICY = "change the network-wide escalation policy"
    MANAGE_AGENCIES = "add agencies"
    MANAGE_PRINCIPALS = "add, change, disable principals"
    MANAGE_TOKENS = "list, create, rotate, revoke tokens"
    MANAGE_CONTACT_METHODS = "list, add, verify, remove the ways a person is alerted"
    READ_ROSTER = "read rosters, shifts and gaps"
    MANAGE_ROSTER = "change rotations and overrides"
    READ_AGREEMENTS = "read access agreements"
    MANAGE_AGREEMENTS = "grant, change, end access agreements"
    MANAGE_WEBHOOKS = "manage its agency's webhook endpoints and their delivery log"
    # The audit trail: an entry belongs to every country it concerns (app/audit).
    READ_AUDIT = "list and export audit entries"
    # Shared cybercrime data (app/sharing): a collection belongs to the agency that owns it
    # (the gateway collection to none). Which shares a country reads is the collection's
    # audience, decided in app/sharing/collections.py on top of these.
    SUBMIT_DATA = "submit STIX or MISP data to a collection of its own agency"
    READ_SHARED_DATA = "read shared data: the gateway, shares naming its country, its own"
    TRIAGE_DATA = "triage partners' submissions: accept, reject, ask for more, give feedback"
    MANAGE_SHARES = "create and change its agency's share collections"
    READ_PARTNER_AGREEMENTS = "read partner agreements"
    MANAGE_PARTNER_AGREEMENTS = "make, change and end partner agreements"


_ANY = frozenset({Scope.ANY})
_COUNTRY = frozenset({Scope.OWN_COUNTRY})
_AGENCY = frozenset({Scope.OWN_AGENCY})
_SELF = frozenset({Scope.SELF})
_SENDING_COUNTRY = frozenset({Scope.SENDING_COUNTRY})
_HOLDER = frozenset({Scope.HOLDER})
# A private partner sees its own submissions and terms, nothing of the network's.
_EVERYONE: dict[Role, frozenset[Scope]] = {role: _ANY for role in Role if role is not Role.PARTNER}

RULES: dict[Action, dict[Role, frozenset[Scope]]] = {
    Action.SUBMIT_REQUEST: {Role.UNIT: _AGENCY},
    Action.READ_REQUEST: {
        Role.UNIT: _AGENCY,
        Role.CONTACT_POINT: _COUNTRY,
        Role.NCB: _COUNTRY | _SENDING_COUNTRY,
        Role.GS: _ANY,
        Role.AUDITOR: _ANY,
        Role.NATIONAL_AUDITOR: _COUNTRY | _SENDING_COUNTRY,
    },
    # Content, by handling code (app/requests/handling.py): auditors never read any.
    Action.READ_REQUEST_CONTENT: {
        Role.UNIT: _AGENCY,
        Role.CONTACT_POINT: _COUNTRY,
        Role.NCB: _COUNTRY,
        Role.GS: _ANY,
    },
    # The receiving organisation only: the target desk, not the NCB.
    Action.READ_STRICT_CONTENT: {
        Role.UNIT: _AGENCY,
        Role.CONTACT_POINT: _COUNTRY,
        Role.GS: _ANY,
    },
    # Named recipients: the sending agency, the one contact point holding the request (not
    # its colleagues, agency or desk; it moves with the request) and the global desk.
    Action.READ_RED_CONTENT: {
        Role.UNIT: _AGENCY,
        Role.CONTACT_POINT: _HOLDER,
        Role.GS: _ANY,
    },
    Action.ACKNOWLEDGE_REQUEST: {Role.CONTACT_POINT: _COUNTRY, Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.ASSIGN_REQUEST: {Role.CONTACT_POINT: _COUNTRY, Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.ACT_AS_TARGET: {Role.CONTACT_POINT: _COUNTRY, Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.ACT_AS_REQUESTER: {Role.UNIT: _AGENCY},
    Action.TAKE_PART: {
        Role.UNIT: _AGENCY,
        Role.CONTACT_POINT: _COUNTRY,
        Role.NCB: _COUNTRY,
        Role.GS: _ANY,
    },
    Action.PERMIT_RESHARE: {
        Role.UNIT: _AGENCY,
        Role.CONTACT_POINT: _AGENCY,
        Role.NCB: _AGENCY,
        Role.GS: _ANY,
    },
    Action.HOLD_REQUEST: {Role.NCB: _SENDING_COUNTRY, Role.GS: _ANY},
    # Proof for the side that sent the request (and who oversees it); metadata and hashes only.
    Action.READ_RECEIPTS: {
        Role.UNIT: _AGENCY,
        Role.NCB: _SENDING_COUNTRY,
        Role.GS: _ANY,
        Role.AUDITOR: _ANY,
        Role.NATIONAL_AUDITOR: _SENDING_COUNTRY,
    },
    # A second officer of the sending agency, or its country's NCB.
    Action.READ_APPROVALS: {Role.UNIT: _AGENCY, Role.NCB: _SENDING_COUNTRY},
    Action.DECIDE_APPROVAL: {Role.UNIT: _AGENCY, Role.NCB: _SENDING_COUNTRY},
    Action.RECEIVE_PUSHES: {
        Role.UNIT: _AGENCY,
        Role.CONTACT_POINT: _COUNTRY | _SELF,
        # Its own agency's channel too: what is addressed to the NCB itself (four-eyes
        # approvals of its country's emergency disclosures), as its webhooks hear it.
        Role.NCB: _COUNTRY | _AGENCY,
        Role.GS: _ANY,
    },
    # The global desk drills any desk, an NCB its own country's; the drilled desk itself does
    # not see them coming (its NCB sees the drills it did not schedule once they are sent).
    Action.SCHEDULE_DRILL: {Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.READ_DRILLS: {Role.NCB: _COUNTRY, Role.GS: _ANY},
    # The global desk the network's and every country's; an NCB its own country's. Units,
    # desks, auditors and partners none: a report aggregates over a whole country.
    Action.GENERATE_REPORT: {Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.READ_REPORTS: {Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.READ_DIRECTORY: _EVERYONE,
    Action.READ_DESK_CONTACTS: {
        Role.CONTACT_POINT: _ANY,
        Role.NCB: _ANY,
        Role.GS: _ANY,
        Role.ADMIN: _ANY,
    },
    Action.READ_PEOPLE: {
        Role.PARTNER: _SELF,  # itself: who it is (/v1/me), its own tokens
        Role.UNIT: _SELF,
        Role.CONTACT_POINT: _COUNTRY | _SELF,
        Role.NCB: _COUNTRY | _SELF,
        Role.GS: _ANY,
        Role.AUDITOR: _SELF,
        Role.NATIONAL_AUDITOR: _SELF,
        Role.ADMIN: _ANY,
    },
    Action.ADD_COUNTRY: {Role.GS: _ANY, Role.ADMIN: _ANY},
    Action.MANAGE_COUNTRY: {Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.MANAGE_DEFAULT_POLICY: {Role.GS: _ANY},
    Action.MANAGE_AGENCIES: {Role.NCB: _COUNTRY, Role.GS: _ANY, Role.ADMIN: _ANY},
    Action.MANAGE_PRINCIPALS: {Role.NCB: _COUNTRY, Role.GS: _ANY, Role.ADMIN: _ANY},
    Action.MANAGE_TOKENS: {
        Role.UNIT: _SELF,
        Role.CONTACT_POINT: _SELF,
        Role.NCB: _COUNTRY | _SELF,
        Role.GS: _ANY,
        Role.AUDITOR: _SELF,
        Role.NATIONAL_AUDITOR: _SELF,
        Role.ADMIN: _ANY,
        Role.PARTNER: _SELF,
    },
    # Everyone their own; an NCB its country's people (a desk's gateway, say), as it manages
    # them; the global desk and admins anyone.
    Action.MANAGE_CONTACT_METHODS: {
        Role.UNIT: _SELF,
        Role.CONTACT_POINT: _SELF,
        Role.NCB: _COUNTRY | _SELF,
        Role.GS: _ANY,
        Role.AUDITOR: _SELF,
        Role.NATIONAL_AUDITOR: _SELF,
        Role.ADMIN: _ANY,
    },
    Action.READ_ROSTER: {
        Role.CONTACT_POINT: _COUNTRY,
        Role.NCB: _COUNTRY,
        Role.GS: _ANY,
        Role.ADMIN: _ANY,
    },
    Action.MANAGE_ROSTER: {Role.NCB: _COUNTRY, Role.GS: _ANY},
    Action.READ_AGREEMENTS: {
        Role.UNIT: _AGENCY,
        Role.NCB: _COUNTRY,
        Role.GS: _ANY,
        Role.AUDITOR: _ANY,
        Role.NATIONAL_AUDITOR: _COUNTRY,
    },
    Action.MANAGE_AGREEMENTS: {Role.NCB: _COUNTRY, Role.GS: _ANY},
    # An agency's own case system, told of what its agency hears: its unit or NCB, or the
    # global desk for its own agency; nobody manages another agency's endpoints (their
    # secrets and delivery logs are that agency's alone), not even over the country.
    Action.MANAGE_WEBHOOKS: {Role.UNIT: _AGENCY, Role.NCB: _AGENCY, Role.GS: _AGENCY},
    # Auditors only: who runs the service does not audit it. A national auditor sees the
    # entries concerning its country, whoever acted.
    Action.READ_AUDIT: {Role.AUDITOR: _ANY, Role.NATIONAL_AUDITOR: _COUNTRY},
    Action.SUBMIT_DATA: {
        Role.PARTNER: _AGENCY,
        Role.UNIT: _AGENCY,
        Role.NCB: _AGENCY,
        Role.GS: _AGENCY,
    },
    Action.READ_SHARED_DATA: {
        Role.PARTNER: _AGENCY,
        Role.UNIT: _ANY,
        Role.CONTACT_POINT: _ANY,
        Role.NCB: _ANY,
        Role.GS: _ANY,
    },
    Action.TRIAGE_DATA: {Role.GS: _ANY},
    Action.MANAGE_SHARES: {Role.UNIT: _AGENCY, Role.NCB: _AGENCY, Role.GS: _AGENCY},
    Action.READ_PARTNER_AGREEMENTS: {Role.PARTNER: _AGENCY, Role.GS: _ANY, Role.ADMIN: _ANY},
    Action.MANAGE_PARTNER_AGREEMENTS: {Role.GS: _ANY, Role.ADMIN: _ANY},
}

# The roles each manager may give a principal (on top of MANAGE_PRINCIPALS over its agency):
# an NCB staffs its own country, the global desk the network, and only an admin makes admins.
GRANTABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.NCB: frozenset({Role.UNIT, Role.CONTACT_POINT, Role.NCB}),
    Role.GS: frozenset(Role) - {Role.ADMIN},
    Role.ADMIN: frozenset(Role),
}


@dataclass(frozen=True, slots=True)
class Owner:
    """What an object belongs to. None: it belongs to no country (agency, principal).

    An audit entry belongs to every country it concerns (``countries``). A request also names
    the country that sent it and the contact point holding it (None while the whole desk
    holds it)."""

    country: str | None = None
    countries: tuple[str, ...] = ()
    agency_id: uuid.UUID | None = None
    principal_id: uuid.UUID | None = None
    sending_country: str | None = None
    holder_id: uuid.UUID | None = None


NETWORK = Owner()  # what belongs to the whole network: reached by an ``any`` scope only


def owner_columns(model: type[Base]) -> OwnerColumns:
    """The model's declaration of what its rows belong to; a TypeError for a model without
    one, so that no row is decided on by a guess (nothing declared would reach nobody, or,
    under an ``any`` scope, everybody)."""
    columns = getattr(model, "owner_columns", None)
    if not isinstance(columns, OwnerColumns):
        raise TypeError(
            f"{model.__name__} declares no owner_columns: the policy cannot tell what its "
            "rows belong to (app/models/ownership.py)"
        )
    return columns


def owner_of(row: Base) -> Owner:
    """What the row belongs to, read from the columns its model declares."""
    declared = owner_columns(type(row)).declared()
    values: dict[str, Any] = {facet: getattr(row, name) for facet, name in declared.items()}
    if "countries" in values:
        values["countries"] = tuple(values["countries"] or ())
    return Owner(
        country=values.get("country"),
        countries=values.get("countries", ()),
        agency_id=values.get("agency"),
        principal_id=values.get("principal"),
        sending_country=values.get("sending_country"),
        holder_id=values.get("holder"),
    )


def scopes(actor: Actor, action: Action) -> frozenset[Scope]:
    return RULES[action].get(actor.role, frozenset())


def _reaches(actor: Actor, scope: Scope, owner: Owner) -> bool:
    match scope:
        case Scope.ANY:
            return True
        case Scope.OWN_COUNTRY:
            return (
                owner.country is not None and owner.country == actor.country
            ) or actor.country in owner.countries
        case Scope.OWN_AGENCY:
            return owner.agency_id is not None and owner.agency_id == actor.agency_id
        case Scope.SELF:
            return owner.principal_id is not None and owner.principal_id == actor.principal_id
        case Scope.SENDING_COUNTRY:
            return owner.sending_country is not None and owner.sending_country == actor.country
        case Scope.HOLDER:
            return owner.holder_id is not None and owner.holder_id == actor.principal_id


def permits(actor: Actor, action: Action, subject: Owner | Base | None = None) -> bool:
    """Whether the actor may do this to a row of an owned model, or to an object of this
    owner; with neither, whether its role may do it to anything at all (a route's first
    question)."""
    granted = scopes(actor, action)
    if subject is None:
        return bool(granted)
    owner = owner_of(subject) if isinstance(subject, Base) else subject
    return any(_reaches(actor, scope, owner) for scope in granted)


def require(actor: Actor, action: Action, subject: Owner | Base | None = None) -> None:
    if permits(actor, action, subject):
        return
    if not scopes(actor, action):
        raise ForbiddenError(f"a principal with role {actor.role.value} may not {action.value}")
    reach = " or ".join(sorted(scope.value for scope in scopes(actor, action)))
    raise ForbiddenError(
        f"a principal with role {actor.role.value} may {action.value} for its {reach} only"
    )


def require_grantable(actor: Actor, role: Role) -> None:
    if role not in GRANTABLE_ROLES.get(actor.role, frozenset()):
        raise ForbiddenError(
            f"a principal with role {actor.role.value} may not give the role {role.value}"
        )


def where(actor: Actor, action: Action, model: type[Base]) -> ColumnElement[bool]:
    """The same rule as :func:`permits`, as a SQL condition over the owner columns the model
    declares: lists are filtered by it, so a list never shows what a GET would refuse. (A
    principal's country is its agency's: the query must join the agency.)"""
    declared = {
        facet: getattr(model, name) for facet, name in owner_columns(model).declared().items()
    }
    clauses: list[ColumnElement[bool]] = []
    for scope in scopes(actor, action):
        match scope:
            case Scope.ANY:
                return true()
            case Scope.OWN_COUNTRY:
                if "country" in declared:
                    clauses.append(declared["country"] == actor.country)
                if "countries" in declared:
                    # Containment, not "= ANY": the form a GIN index on the array answers.
                    clauses.append(declared["countries"].contains([actor.country]))
            case Scope.OWN_AGENCY if "agency" in declared:
                clauses.append(declared["agency"] == actor.agency_id)
            case Scope.SELF if "principal" in declared:
                clauses.append(declared["principal"] == actor.principal_id)
            case Scope.SENDING_COUNTRY if "sending_country" in declared:
                clauses.append(declared["sending_country"] == actor.country)
            case Scope.HOLDER if "holder" in declared:
                clauses.append(declared["holder"] == actor.principal_id)
    return or_(*clauses) if clauses else false()


def render_document() -> str:
    """docs/authorization.md: the model for people, generated from RULES."""
    return (
        "# Who may do what\n\n"
        "Generated by `relay247 policy` from app/identity/policy.py, the one place the service "
        "decides\nit; a test fails when this file and the code differ.\n\n"
        "Each cell lists the scopes in which a role may act: **any** object; objects of its\n"
        "**own country**; of its **own agency**; **self** (itself, its tokens, what is\n"
        "assigned to it); a request sent from its country (**sending country**); or the\n"
        "request it holds, as the one contact point it is assigned to (**holder**). A request\n"
        "belongs to its target country and to the agency that sent it. What belongs to the\n"
        "General Secretariat belongs to no country, so only an *any* scope reaches it. An\n"
        "object a principal may not see is answered with 404, as if it did not exist; one it\n"
        "sees but may not change with 403 and the reason.\n\n"
        "Who may read content depends on its TLP code (see the README): an auditor reads\n"
        "none. TLP:RED content is read by the sending agency, the global desk and, at the\n"
        "target, by the contact point holding the request only: not its colleagues at the\n"
        "desk or in its agency, not the NCB. It follows the request: handed on (`/assign`)\n"
        "or escalated, the new holder reads it and the previous one no longer does; while\n"
        "nobody holds it (the whole desk, the NCB's or the global desk's step) nobody at the\n"
        "target does. Whoever sees the request but may not read it gets its metadata and\n"
        "hashes: `content`, a message's `text` and a file's `name` are null, and a file's\n"
        "bytes are a 403.\n\n"
        "An audit entry belongs to every country it concerns (its object's, and the acting\n"
        "principal's), so a national auditor sees the entries of its own country's requests,\n"
        "agencies and people. A refused attempt (`access.refused`) on an object that does\n"
        "not concern the caller's own country, or on an id that names nothing, is written\n"
        "twice, so that the trail never tells the caller's country what a 404 hid from the\n"
        "caller: once for the caller's country, naming it alone, as a probe of an id that\n"
        "names nothing reads; and once for the object's countries (none for an id that names\n"
        "nothing: network-wide auditors only), naming them alone, with `object_side: true`\n"
        "and a random `salt` (a filtered export shows a left-out entry's digest, which the\n"
        "caller's country could otherwise match by trying each pair of countries).\n\n"
        + render_table()
        + "\nRoles a manager may give a principal:\n\n"
        + "".join(
            f"- {manager.value}: {', '.join(sorted(role.value for role in roles))}\n"
            for manager, roles in GRANTABLE_ROLES.items()
        )
    )


def render_table(actions: Iterable[Action] = Action) -> str:
    """The model as a Markdown table, for people (docs/authorization.md)."""
    roles = list(Role)
    lines = [
        "| action | " + " | ".join(role.value for role in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for action in actions:
        cells = [", ".join(sorted(RULES[action].get(role, ()))) or "-" for role in roles]
        lines.append(f"| {action.value} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
