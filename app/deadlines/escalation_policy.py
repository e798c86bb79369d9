"""Escalation policies: the document an NCB or the global desk writes, and its rules.

A policy says, per priority (and optionally per request type), who is told in which order when
nobody acknowledges, and after how long each; and the legal response clocks by type and
priority. A country without a policy of its own uses the network-wide default. The most
specific rule wins: (type, priority), then type, then priority.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.models.enums import EscalationTarget, Priority, RequestType

_WEEK = 7 * 24 * 3600


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EscalationStep(_Document):
    target: EscalationTarget
    ack_timeout_seconds: Annotated[
        int,
        Field(
            gt=0,
            le=_WEEK,
            description="How long this step has to acknowledge before the next one is told. "
            "On the last step (the global desk): the interval of its reminders.",
        ),
    ]
    alert_repeat_seconds: Annotated[
        int,
        Field(
            ge=30,
            le=_WEEK,
            description="While this step holds the request unacknowledged, whoever it reaches "
            "is alerted again (e-mail, push, gateway) this often.",
        ),
    ] = 300


class StepRule(_Document):
    priority: Priority
    type: RequestType | None = Field(default=None, description="null: every type")
    steps: Annotated[list[EscalationStep], Field(min_length=1, max_length=8)]

    @model_validator(mode="after")
    def _ends_at_the_global_desk(self) -> Self:
        if self.steps[-1].target is not EscalationTarget.GLOBAL_DESK:
            raise ValueError("the last step must reach the global desk (global_desk)")
        targets = [step.target for step in self.steps]
        if len(set(targets)) != len(targets):
            raise ValueError("a step target appears twice")
        return self


class ResponseRule(_Document):
    type: RequestType | None = Field(default=None, description="null: every type")
    priority: Priority | None = Field(default=None, description="null: every priority")
    respond_within_hours: Annotated[int, Field(gt=0, le=24 * 366)]


class EscalationPolicyDocument(_Document):
    ack_steps: Annotated[list[StepRule], Field(min_length=1, max_length=64)]
    response_times: Annotated[list[ResponseRule], Field(min_length=1, max_length=64)]
    preservation_days: Annotated[
        int, Field(gt=0, le=3650, description="How long preserved data is kept (Art. 29: 60)")
    ] = 60
    preservation_extension_days: Annotated[
        int, Field(ge=0, le=3650, description="The extension a requester may ask for")
    ] = 30

    @model_validator(mode="after")
    def _complete_and_unambiguous(self) -> Self:
        step_keys = [(rule.type, rule.priority) for rule in self.ack_steps]
        if len(set(step_keys)) != len(step_keys):
            raise ValueError("ack_steps has two rules for the same type and priority")
        missing = [p.value for p in Priority if (None, p) not in step_keys]
        if missing:
            raise ValueError(
                "ack_steps needs a rule for every type at each priority; missing: "
                + ", ".join(missing)
            )
        response_keys = [(rule.type, rule.priority) for rule in self.response_times]
        if len(set(response_keys)) != len(response_keys):
            raise ValueError("response_times has two rules for the same type and priority")
        uncovered = [
            p.value
            for p in Priority
            if (None, p) not in response_keys and (None, None) not in response_keys
        ]
        if uncovered:
            raise ValueError(
                "response_times needs a rule for every type at each priority; missing: "
                + ", ".join(uncovered)
            )
        return self

    def steps_for(self, request_type: RequestType, priority: Priority) -> list[EscalationStep]:
        by_key = {(rule.type, rule.priority): rule.steps for rule in self.ack_steps}
        return by_key.get((request_type, priority)) or by_key[(None, priority)]

    def respond_within_hours(self, request_type: RequestType, priority: Priority) -> int:
        by_key = {(r.type, r.priority): r.respond_within_hours for r in self.response_times}
        for key in ((request_type, priority), (request_type, None), (None, priority)):
            if key in by_key:
                return by_key[key]
        return by_key[(None, None)]


def _steps(primary: int, backup: int, ncb: int, global_desk: int) -> list[EscalationStep]:
    return [
        EscalationStep(target=EscalationTarget.ON_DUTY_PRIMARY, ack_timeout_seconds=primary),
        EscalationStep(target=EscalationTarget.ON_DUTY_BACKUP, ack_timeout_seconds=backup),
        EscalationStep(target=EscalationTarget.NCB, ack_timeout_seconds=ncb),
        EscalationStep(target=EscalationTarget.GLOBAL_DESK, ack_timeout_seconds=global_desk),
    ]


# The network-wide default the first migration writes (kept in step with it by a test):
# minutes for emergencies, hours for routine work; legal response clocks from the Second
# Protocol (emergency disclosure: 8 h) and common practice (urgent 72 h, routine 10 days).
LEGAL_DEFAULT = EscalationPolicyDocument(
    ack_steps=[
        StepRule(priority=Priority.EMERGENCY, steps=_steps(300, 300, 600, 900)),
        StepRule(priority=Priority.URGENT, steps=_steps(1800, 1800, 3600, 3600)),
        StepRule(priority=Priority.ROUTINE, steps=_steps(4 * 3600, 4 * 3600, 8 * 3600, 8 * 3600)),
    ],
    response_times=[
        ResponseRule(type=RequestType.EMERGENCY_DISCLOSURE, respond_within_hours=8),
        ResponseRule(priority=Priority.EMERGENCY, respond_within_hours=8),
        ResponseRule(priority=Priority.URGENT, respond_within_hours=72),
        ResponseRule(priority=Priority.ROUTINE, respond_within_hours=240),
    ],
    preservation_days=60,
    preservation_extension_days=30,
)


class EscalationPolicyOut(BaseModel):
    """A policy as it applies: a country's own, or the network default it inherits."""

    country: str | None = Field(description="null: the network-wide default")
    inherited: bool = Field(
        description="True when the country has no policy of its own and the default applies"
    )
    version: int = Field(description="The version of the policy shown (the default's if inherited)")
    updated_at: datetime
    document: EscalationPolicyDocument

    @property
    def etag(self) -> str:
        # Distinct while inherited, so an If-Match read from the default never matches a
        # country's own policy of the same number.
        return f'"default-{self.version}"' if self.inherited else f'"{self.version}"'
