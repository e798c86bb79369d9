"""Countries of the network and their contact-point profiles, as the API reads and writes them."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.primitives import CountryCode, Text
from app.models.enums import AgencyKind, RequestType
from app.rosters.schemas import OnDutyOut

# Read once at import: the lookup walks the tz database on disk, a blocking call no request
# should make.
IANA_ZONES = frozenset(zoneinfo.available_timezones())

# A simple, strict subset of BCP 47: language, optional script, optional region.
# `en`, `pt-BR`, `zh-Hant-TW`, `es-419`.
LANGUAGE_TAG = r"[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?"
# E.164: a plus, the country calling code, at most 15 digits in all.
E164 = r"\+[1-9][0-9]{6,14}"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANGUAGE_TAG = re.compile(LANGUAGE_TAG)
_E164 = re.compile(E164)

CountryName = Annotated[str, Text(min_length=1, max_length=100)]
TimeZone = Annotated[
    str,
    Text(min_length=1, max_length=64),
    Field(description="An IANA time zone, in which the country's rosters are written"),
]


def _language_tag(tag: str) -> str:
    if not _LANGUAGE_TAG.fullmatch(tag):
        raise ValueError(
            f"{tag!r} is not a BCP 47 language tag of the form language[-Script][-REGION] "
            "(e.g. en, pt-BR, zh-Hant-TW)"
        )
    return tag


LanguageTag = Annotated[
    str,
    Text(min_length=2, max_length=16),
    AfterValidator(_language_tag),
    Field(description="A BCP 47 tag: language[-Script][-REGION]", examples=["en", "pt-BR"]),
]
DeskPhone = Annotated[
    str,
    Text(min_length=1, max_length=16),
    Field(description="E.164: + and up to 15 digits", examples=["+33472447000"]),
]
DeskEmail = Annotated[str, Text(min_length=3, max_length=254)]
Notes = Annotated[str, Text(max_length=4000)]


def _iana(value: str) -> str:
    if value not in IANA_ZONES:
        raise ValueError(f"{value[:64]!r} is not an IANA time zone (e.g. Europe/Paris, UTC)")
    return value


def _once_each(values: list[Any], what: str) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError(f"lists a {what} more than once")
    return values


def disjoint_types_message(both: set[RequestType]) -> str:
    listed = ", ".join(sorted(both))
    return (
        f"direct_types and mla_types both list {listed}: a type is executed directly or needs "
        "mutual legal assistance, not both"
    )


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CountryCreate(_Input):
    """A country joining the network. Its profile is filled in afterwards by its NCB."""

    code: CountryCode
    name: CountryName
    time_zone: TimeZone = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _iana(value)


FOUR_EYES = (
    "The country's policy: true, every emergency disclosure it sends waits for a second "
    "officer of the sending agency or of the NCB to approve it (docs/four-eyes.md)"
)


class CountryProfileChange(_Input):
    """The fields to change; those left out stay as they are. `desk_phone` and `desk_email`
    may be null (no desk line, no desk address); the others may not."""

    time_zone: TimeZone | None = None
    languages: Annotated[list[LanguageTag], Field(max_length=20)] | None = None
    direct_types: (
        Annotated[
            list[RequestType],
            Field(
                max_length=len(RequestType),
                description="Request types the desk executes itself",
            ),
        ]
        | None
    ) = None
    mla_types: (
        Annotated[
            list[RequestType],
            Field(
                max_length=len(RequestType),
                description="Request types that need mutual legal assistance",
            ),
        ]
        | None
    ) = None
    desk_phone: DeskPhone | None = None
    desk_email: DeskEmail | None = None
    notes: Notes | None = None
    four_eyes: bool | None = Field(default=None, description=FOUR_EYES)

    @field_validator(
        "time_zone", "languages", "direct_types", "mla_types", "notes", "four_eyes", mode="before"
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: leave the field out to keep it as it is")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _iana(value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _once_each(value, "language")

    @field_validator("direct_types", "mla_types")
    @classmethod
    def _types(cls, value: list[RequestType] | None) -> list[RequestType] | None:
        return None if value is None else _once_each(value, "request type")

    @field_validator("desk_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _E164.fullmatch(value):
            raise ValueError("is not an E.164 number: + then 7 to 15 digits, no spaces")
        return value

    @field_validator("desk_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _something_disjoint(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("names no field to change")
        both = set(self.direct_types or ()) & set(self.mla_types or ())
        if both:
            raise ValueError(disjoint_types_message(both))
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, with their new values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class CountryOut(BaseModel):
    """A country and its contact-point profile."""

    code: str
    name: str
    time_zone: str
    languages: list[str]
    direct_types: list[RequestType]
    mla_types: list[RequestType]
    desk_phone: str | None = Field(
        description="null when the desk has none, or when you may not see desk contacts"
    )
    desk_email: str | None = Field(
        description="null when the desk has none, or when you may not see desk contacts"
    )
    notes: str
    four_eyes: bool = Field(description=FOUR_EYES)
    updated_at: datetime


class CountryList(BaseModel):
    items: list[CountryOut] = Field(
        description="Every country of the network, by code: never more than ISO 3166 has, so "
        "one page"
    )


class AgencyBrief(BaseModel):
    id: uuid.UUID
    name: str
    kind: AgencyKind


class ContactPointOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    disabled: bool


class Staffing(BaseModel):
    """Whether someone is on duty now, without naming them: the directory for everyone."""

    primary: bool
    backup: bool


class CountryDetail(CountryOut):
    agencies: list[AgencyBrief]
    contact_points: list[ContactPointOut] | None = Field(
        description="The country's contact points; null when you may not see its people"
    )
    staffed_now: Staffing
    on_duty: OnDutyOut | None = Field(
        description="Who is on duty now, with their shifts; null when you may not see the "
        "country's roster (staffed_now still says whether someone is)"
    )
