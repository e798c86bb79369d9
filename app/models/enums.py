"""The closed vocabularies of the domain (DESIGN.md), stored as checked text columns."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


class AgencyKind(enum.StrEnum):
    UNIT = "unit"  # a national cybercrime unit
    NCB = "ncb"  # an INTERPOL National Central Bureau
    GS = "gs"  # the General Secretariat: the global desk
    PARTNER = "partner"  # a private partner (Project Gateway)


class Role(enum.StrEnum):
    UNIT = "unit"  # a national unit's case system: sends requests
    CONTACT_POINT = "contact_point"  # the 24/7 desk of a country: receives and acknowledges
    NCB = "ncb"
    GS = "gs"
    AUDITOR = "auditor"  # network-wide: the General Secretariat's
    NATIONAL_AUDITOR = "national_auditor"  # one country's: sees entries concerning it only
    ADMIN = "admin"
    PARTNER = "partner"  # a private partner's system (Project Gateway): submits data only


class RequestType(enum.StrEnum):
    PRESERVATION = "preservation"  # Budapest Art. 29
    TRAFFIC_DATA = "traffic_data"  # Budapest Art. 30
    SUBSCRIBER_INFO = "subscriber_info"  # Budapest Art. 18 / Second Protocol Art. 7
    EMERGENCY_DISCLOSURE = "emergency_disclosure"  # Second Protocol Art. 9
    MUTUAL_ASSISTANCE = "mutual_assistance"
    TECHNICAL_ASSISTANCE = "technical_assistance"  # Budapest Art. 35
    INCIDENT_SUPPORT = "incident_support"  # ransomware, attack in progress
    INFORMATION_SHARING = "information_sharing"


class Priority(enum.StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"


class RequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    INFO_REQUESTED = "info_requested"
    RESPONDED = "responded"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Attention(enum.StrEnum):
    """Why an open request needs someone's eyes beyond its desk's (GET /v1/requests'
    `attention` filter; the global desk's overview)."""

    ESCALATED = "escalated"  # its escalation policy moved it past its first step
    OVERDUE = "overdue"  # unacknowledged past the last step, or its response clock ran out


class HandlingCode(enum.StrEnum):
    """Traffic Light Protocol 2.0."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"


class OnwardUse(enum.StrEnum):
    """Restrictions on onward use of what is shared."""

    H0 = "H0"  # crime-fighting purposes only
    H1 = "H1"  # not for use in court without permission
    H2 = "H2"  # no onward transfer without permission
    H3 = "H3"  # other restriction, stated in the request


class IdentifierKind(enum.StrEnum):
    IP = "ip"
    DOMAIN = "domain"
    URL = "url"
    EMAIL = "email"
    ACCOUNT = "account"
    PHONE = "phone"
    CRYPTO_ADDRESS = "crypto_address"
    HASH = "hash"


class CollectionKind(enum.StrEnum):
    """What a TAXII collection of shared data holds (app/sharing)."""

    INBOX = "inbox"  # a private partner's submissions, in quarantine until triaged
    GATEWAY = "gateway"  # partner data the global desk accepted: the whole network reads it
    SHARE = "share"  # a member agency's own shares, read by the countries it names


class Triage(enum.StrEnum):
    """Where a partner's submitted object stands with the global desk."""

    QUARANTINED = "quarantined"  # waiting for an analyst
    ACCEPTED = "accepted"  # copied into the gateway collection, with provenance
    REJECTED = "rejected"
    INFO_REQUESTED = "info_requested"  # the partner is asked for more; it stays out


class UnmarkedObjects(enum.StrEnum):
    """What a partner agreement says of an object that carries no TLP marking."""

    REFUSE = "refuse"
    DEFAULT = "default"  # it takes the agreement's default handling code


class Feedback(enum.StrEnum):
    """What the network tells a partner of its data, as a STIX sighting (MISP's three kinds)."""

    SEEN = "seen"
    FALSE_POSITIVE = "false_positive"
    EXPIRED = "expired"


class ObjectOrigin(enum.StrEnum):
    """How a row of the shared-data store came to be."""

    SUBMITTED = "submitted"  # as a partner or a member agency sent it
    ACCEPTED = "accepted"  # a quarantined object's copy in the gateway collection
    FEEDBACK = "feedback"  # a sighting the network wrote back to a partner


class Layer(enum.StrEnum):
    """The two layers of a roster: a request goes to the primary; the backup is the next step."""

    PRIMARY = "primary"
    BACKUP = "backup"


class Cadence(enum.StrEnum):
    """How long each shift of a rotation lasts, in the country's wall-clock time."""

    DAILY = "daily"
    WEEKLY = "weekly"
    HOURS = "hours"  # every N hours


class OverrideKind(enum.StrEnum):
    COVER = "cover"  # someone is on duty in a layer for a time range, whoever was scheduled
    SWAP = "swap"  # two people serve each other's scheduled time in a layer
    LEAVE = "leave"  # someone is away: their scheduled time is a gap unless covered


class Assignment(enum.StrEnum):
    """How a request's assignee was chosen."""

    ON_DUTY = "on_duty"  # the target country's on-duty primary when it arrived
    DESK = "desk"  # nobody was on duty: the whole desk and the NCB hold it
    REASSIGNED = "reassigned"  # handed to another contact point by the desk
    ESCALATED = "escalated"  # moved on by its escalation policy: nobody acknowledged in time


class EscalationTarget(enum.StrEnum):
    ON_DUTY_PRIMARY = "on_duty_primary"
    ON_DUTY_BACKUP = "on_duty_backup"
    NCB = "ncb"
    GLOBAL_DESK = "global_desk"


def db_enum(enum_class: type[enum.StrEnum], *, name: str | None = None) -> Enum:
    """A text column with a CHECK constraint: new values need no ALTER TYPE. ``name`` names
    the constraint when a table has two columns of one vocabulary."""
    return Enum(
        enum_class,
        name=name or enum_class.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Side(enum.StrEnum):
    """The two sides of a request's exchange."""

    REQUESTER = "requester"  # the agency that sent it
    TARGET = "target"  # the target country's desk (contact points, its NCB) and the global desk


class RequestAction(enum.StrEnum):
    """What a side does to a request (app/requests/lifecycle.py says when and to what)."""

    # A dashboard confirms the request reached a person's screen (its `received` frame).
    RECEIVE = "receive"
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    RESPOND = "respond"
    DECLINE = "decline"
    CLOSE = "close"
    CANCEL = "cancel"
    REOPEN = "reopen"


class SourceReliability(enum.StrEnum):
    """The source's reliability, as law-enforcement networks grade it (the 4x4 system)."""

    A = "A"  # no doubt of its authenticity, trustworthiness and competence
    B = "B"  # information from it has in most instances proved reliable
    C = "C"  # information from it has in most instances proved unreliable
    X = "X"  # its reliability cannot be judged


class ApprovalStatus(enum.StrEnum):
    """Where a request held for a second officer's approval stands (app/approvals/)."""

    AWAITING = "awaiting_approval"  # held: not routed, not delivered, no deadline counts
    APPROVED = "approved"  # sent on through the normal routing, as the request of its id
    REFUSED = "refused"  # ended by an approver, with a reason the requester reads
    EXPIRED = "expired"  # nobody decided within RELAY247_FOUR_EYES_EXPIRY
    CANCELLED = "cancelled"  # withdrawn by its sender before anyone decided


class ApprovalRequirement(enum.StrEnum):
    """What made a request need a second officer's approval."""

    AGREEMENT = "agreement"  # the sending agency's access agreement says so
    COUNTRY_POLICY = "country_policy"  # the sending country's policy says so
