"""Every table, one per module, on one metadata (what Alembic compares against)."""

from app.models.agency import Agency
from app.models.agreement import AccessAgreement
from app.models.api_token import ApiToken
from app.models.approval import Approval
from app.models.audit import AuditEntry
from app.models.audit_checkpoint import AuditCheckpoint, AuditSigningKey
from app.models.base import Base, table_of
from app.models.calendar_feed import CalendarFeed
from app.models.contact import AckLink, ContactKind, ContactMethod
from app.models.country import Country
from app.models.deadline import DeadlineKind, RequestDeadline
from app.models.drill import Drill
from app.models.escalation_policy import EscalationPolicy
from app.models.event import Channel, Event
from app.models.exchange import (
    BlobChunk,
    EvidenceFile,
    Message,
    RequestTransition,
    SharePermission,
)
from app.models.idempotency import IdempotencyKey
from app.models.outbox import MessageStatus, OutboxAttempt, OutboxMessage, Route
from app.models.outcome import ClockOutcome, RequestOutcome
from app.models.outcome_rollup import (
    RequestOutcomeHistogram,
    RequestOutcomeMonthHistogram,
    RequestOutcomeMonthRollup,
    RequestOutcomeRollup,
    RequestOutcomeTotal,
    RequestOutcomeTotalHistogram,
)
from app.models.principal import Principal
from app.models.report import Report
from app.models.request import CooperationRequest
from app.models.roster import RosterOverride, RosterRotation
from app.models.shared_data import (
    DataCollection,
    DataSubmission,
    IndicatorValue,
    PartnerAgreement,
    RequestIdentifier,
    RequestMatch,
    StixObject,
)
from app.models.webhook import WebhookEndpoint

__all__ = [
    "AccessAgreement",
    "AckLink",
    "Agency",
    "ApiToken",
    "Approval",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditSigningKey",
    "Base",
    "BlobChunk",
    "CalendarFeed",
    "Channel",
    "ClockOutcome",
    "ContactKind",
    "ContactMethod",
    "CooperationRequest",
    "Country",
    "DataCollection",
    "DataSubmission",
    "DeadlineKind",
    "Drill",
    "EscalationPolicy",
    "Event",
    "EvidenceFile",
    "IdempotencyKey",
    "IndicatorValue",
    "Message",
    "MessageStatus",
    "OutboxAttempt",
    "OutboxMessage",
    "PartnerAgreement",
    "Principal",
    "Report",
    "RequestDeadline",
    "RequestIdentifier",
    "RequestMatch",
    "RequestOutcome",
    "RequestOutcomeHistogram",
    "RequestOutcomeMonthHistogram",
    "RequestOutcomeMonthRollup",
    "RequestOutcomeRollup",
    "RequestOutcomeTotal",
    "RequestOutcomeTotalHistogram",
    "RequestTransition",
    "RosterOverride",
    "RosterRotation",
    "Route",
    "SharePermission",
    "StixObject",
    "WebhookEndpoint",
    "table_of",
]
