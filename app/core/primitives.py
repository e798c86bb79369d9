"""The input types every schema and query parameter is built from: text and instants.

Each refuses, with a 422 that names the field, a value the rest of the service cannot carry,
so such a value never reaches the database (where it would fail as a 500, with the request's
content in the error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# Postgres text holds every character but NUL; a lone UTF-16 surrogate (which JSON's "\ud800"
# escape can produce) is no character at all and cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: str | None) -> str | None:
    # None: ``Annotated[str | None, Text(...)]``, an optional field sent as an explicit null.
    if value is None:
        return None
    found = _UNSTORABLE.search(value)
    if found is None:
        return value
    if found.group() == "\x00":
        raise PydanticCustomError(
            "nul_character", "contains a NUL character (U+0000), which text cannot hold"
        )
    raise PydanticCustomError(
        "lone_surrogate", "contains an unpaired UTF-16 surrogate, which is not a character"
    )


@dataclass(frozen=True, slots=True)
class Text:
    """The one string type of the API: ``Annotated[str, Text(max_length=300)]``.

    The length and pattern constraints live here, not in a separate StringConstraints, so they
    stay on the plain string schema (clear messages, complete OpenAPI) and the storability check
    runs after them.
    """

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        constraints = StringConstraints(
            min_length=self.min_length, max_length=self.max_length, pattern=self.pattern
        )
        return core_schema.no_info_after_validator_function(
            _storable, handler(Annotated[source, constraints])
        )


CountryCode = Annotated[
    str,
    Text(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2, upper case", examples=["DE"]),
]

INSTANT_DESCRIPTION = (
    "An instant, RFC 3339 with a UTC offset: `2026-11-20T08:00:00Z` or "
    "`2026-11-20T09:00:00+01:00`. A time without an offset is refused (it could mean any time "
    "zone), and so is one that falls outside years 1 to 9999 once converted to UTC."
)


def _as_utc(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise PydanticCustomError(
            "instant_without_offset",
            "needs a UTC offset (Z or +hh:mm): a time without one could be in any time zone",
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "instant_out_of_range",
            "is outside the times that can be represented (years 1 to 9999 in UTC)",
        ) from None


@dataclass(frozen=True, slots=True)
class _UtcInstant:
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_as_utc, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["description"] = INSTANT_DESCRIPTION
        return json_schema


# An aware datetime, normalised to UTC.
Instant = Annotated[datetime, _UtcInstant()]


# A time something is planned for: a shift, a token's expiry. Far wider than any plan, and
# narrow enough that arithmetic on it (the window around a shift, a rotated token's lifetime
# added to now) never runs off the calendar into a 500.
PLAN_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
PLAN_LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
PLAN_RANGE_MESSAGE = "must fall in the years 1970 to 2999"


def _in_plan_range(value: datetime) -> datetime:
    if not PLAN_EARLIEST <= value < PLAN_LATEST:
        raise PydanticCustomError("planned_time_out_of_range", PLAN_RANGE_MESSAGE)
    return value


PlannedInstant = Annotated[
    Instant,
    AfterValidator(_in_plan_range),
    Field(description=f"{INSTANT_DESCRIPTION} A planned time takes years 1970 to 2999."),
]
