"""People of the directory: agencies, principals and their tokens, and who the caller is."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.primitives import CountryCode, PlannedInstant, Text
from app.models.enums import AgencyKind, Role

MAX_OVERLAP_SECONDS = 86_400


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Name = Annotated[str, Text(min_length=1, max_length=200)]
# Deliberately loose (one @, a dot in the domain, no spaces): the address is for people to
# write to, and a stricter pattern refuses real addresses sooner than it catches typos.
Email = Annotated[
    str,
    Text(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    Field(examples=["duty.officer@bka.example"]),
]
Phone = Annotated[
    str,
    Text(min_length=4, max_length=40, pattern=r"^\+?[0-9 ().-]{4,39}$"),
    Field(description="Digits, spaces, ( ) . - and a leading +", examples=["+49 611 55-0"]),
]
Label = Annotated[str, Text(max_length=200)]


# --- agencies -------------------------------------------------------------------------------


class AgencyCreate(_Input):
    country: CountryCode = Field(
        description="Where the agency sits. The General Secretariat (kind gs) sits in a country "
        "too, but belongs to none: no NCB manages it."
    )
    kind: AgencyKind
    name: Name


class AgencyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    country: str
    kind: AgencyKind
    name: str
    created_at: datetime


class AgencyPage(BaseModel):
    items: list[AgencyOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


# --- principals -----------------------------------------------------------------------------


class PrincipalCreate(_Input):
    agency_id: uuid.UUID
    role: Role
    name: Name
    email: Email | None = None
    phone: Phone | None = None


class PrincipalChange(_Input):
    """The fields to change; a field left out stays as it is, `null` removes an e-mail or a
    phone."""

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give name, email or phone")
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be removed, only changed")
        return self


class PrincipalOut(BaseModel):
    id: uuid.UUID
    agency_id: uuid.UUID
    country: str = Field(description="The country of the principal's agency")
    role: Role
    name: str
    email: str | None
    phone: str | None
    created_at: datetime
    disabled_at: datetime | None = Field(
        description="Set while the principal is disabled: none of its tokens works"
    )


class PrincipalPage(BaseModel):
    items: list[PrincipalOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


# --- tokens ---------------------------------------------------------------------------------


class TokenState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class TokenCreate(_Input):
    label: Label = Field(default="", description="What the token is for, for people")
    expires_at: PlannedInstant | None = Field(
        default=None, description="The token stops working then; null: until revoked"
    )


class TokenRotate(_Input):
    overlap_seconds: int = Field(
        default=900,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="How long the old token keeps working next to the new one, so the "
        "systems that use it can switch without a gap (never past its own expiry)",
    )


class TokenOut(BaseModel):
    """A token as it is listed: never its secret (which is not kept) nor its hash."""

    prefix: str = Field(description="The public handle: r247_<prefix>_…", examples=["3f9a0c1b2d4e"])
    principal_id: uuid.UUID
    label: str
    state: TokenState = Field(
        description="Whether the token itself still works. A disabled principal's tokens work "
        "for nobody, whatever their state."
    )
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="Written in batches (RELAY247_TOKEN_USAGE_FLUSH_INTERVAL, 30 s by default): "
        "accurate to that interval"
    )
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None = Field(description="Prefix of the token that replaced this one")


class TokenIssued(TokenOut):
    token: str = Field(
        description="The bearer token. Shown this once: only a hash of it is kept.",
        examples=["r247_3f9a0c1b2d4e_…"],
    )


class TokenPage(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


# --- the caller -----------------------------------------------------------------------------


class CallerToken(BaseModel):
    prefix: str
    label: str
    expires_at: datetime | None


class MeOut(BaseModel):
    principal_id: uuid.UUID
    name: str
    role: Role
    agency: AgencyOut
    token: CallerToken = Field(description="The token this call was made with")
