"""What GET /v1/requests/{id}/escalation-chain shows: every step of the target's escalation
policy as it applies to one request, whom each reaches, when it fired or will fire, and who
was alerted at each."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.alerts.schemas import AlertedPerson
from app.directory.person_refs import PersonRef
from app.models.enums import EscalationTarget
from app.models.outbox import Route


class StepState(enum.StrEnum):
    PASSED = "passed"  # it fired and nobody acknowledged in its time: the next one did
    CURRENT = "current"  # it holds the request now, unacknowledged
    UPCOMING = "upcoming"  # it fires at `due_at` unless someone acknowledges first
    STOPPED = "stopped"  # it fired, and the escalation stopped there (acknowledged, ended)
    NOT_REACHED = "not_reached"  # the escalation stopped before it


class StepAlert(BaseModel):
    """Everyone alerted while the step held the request (by push, e-mail or gateway), once
    per person: how, how often and when first."""

    person: AlertedPerson
    routes: list[Route]
    count: int = Field(description="Alerts written to this person during the step")
    first_at: datetime
    delivered: bool = Field(description="Whether any of them reached its destination")


class ChainStep(BaseModel):
    step: int = Field(description="Its place in the policy: 0 is the first (the submission)")
    target: EscalationTarget
    ack_timeout_seconds: int = Field(description="How long it has to acknowledge")
    label: str = Field(
        description="Whom it reaches in words, for a step that reaches no one person: "
        "'DE desk', 'NCB DE (Bundeskriminalamt NCB)', 'the global desk'"
    )
    reaches: PersonRef | None = Field(
        description="The one person it reached (fired) or would reach now by the roster "
        "(upcoming, on-duty targets): by name where you may see that person; null for a desk "
        "as a whole (the NCB, the global desk, nobody on duty)"
    )
    state: StepState
    fired_at: datetime | None = Field(description="When it reached them; null: not (yet)")
    due_at: datetime | None = Field(
        description="For an upcoming step: when it fires if nobody acknowledges first, from "
        "the pending deadline and the policy's timeouts; for the current step: when it times "
        "out"
    )
    alerted: list[StepAlert]


class EscalationChainOut(BaseModel):
    request_id: uuid.UUID
    running: bool = Field(
        description="Whether the escalation still runs: false once acknowledged or ended"
    )
    current_step: int = Field(description="The step that holds (or last held) the request")
    acknowledged_at: datetime | None
    acknowledged_by: PersonRef | None
    overdue_at: datetime | None = Field(
        description="Set when the last step timed out: the global desk is reminded since"
    )
    next_reminder_at: datetime | None = Field(
        description="Past the last step: when the global desk is reminded next"
    )
    steps: list[ChainStep]
