"""A request's thread: the messages both sides write, with their handling and evaluation codes."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from app.core.primitives import Text
from app.directory.person_refs import PersonRef
from app.models.enums import HandlingCode, OnwardUse, Side, SourceReliability

TEXT_MAX_LENGTH = 20_000

SOURCE_RELIABILITY_DESCRIPTION = (
    "How reliable the source is (the 4x4 evaluation system): A no doubt of its authenticity, "
    "trustworthiness and competence; B mostly reliable so far; C mostly unreliable so far; "
    "X cannot be judged"
)
INFORMATION_ACCURACY_DESCRIPTION = (
    "How accurate the information is (the 4x4 evaluation system): 1 known to be true without "
    "reservation; 2 known personally to the source, not to the officer passing it on; "
    "3 not known personally to the source, but corroborated; 4 cannot be judged"
)

# A JSON number 1 to 4, never "1" or 1.0: an evaluation code is exact, not coerced.
InformationAccuracyCode = Annotated[
    StrictInt, Field(ge=1, le=4, description=INFORMATION_ACCURACY_DESCRIPTION)
]


class MessageCreate(BaseModel):
    """A message to the other side. Its handling defaults to the request's; it may be
    stricter than the request, never looser."""

    # The text is kept as written (no stripping): its hash must be the hash of what was sent.
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Text(min_length=1, max_length=TEXT_MAX_LENGTH)]
    handling_code: HandlingCode | None = Field(
        default=None, description="TLP code; default: the request's"
    )
    onward_use: Annotated[
        list[OnwardUse] | None,
        Field(
            max_length=4,
            description="Restrictions on onward use (H0-H3); default: the "
            "request's, which a message always keeps",
        ),
    ] = None
    handling_note: Annotated[
        str | None,
        Text(min_length=1, max_length=500),
        Field(
            description="The restriction H3 stands for, in words (required with H3; default: "
            "the request's when the request has H3)"
        ),
    ] = None
    source_reliability: SourceReliability | None = Field(
        default=None, description=SOURCE_RELIABILITY_DESCRIPTION
    )
    information_accuracy: InformationAccuracyCode | None = None

    @model_validator(mode="after")
    def _text_says_something(self) -> Self:
        if not self.text.strip():
            raise ValueError("text is blank: a message says something")
        if self.onward_use is not None and len(set(self.onward_use)) != len(self.onward_use):
            raise ValueError("onward_use lists a restriction more than once")
        return self


class Withheld(enum.StrEnum):
    """Why a message's text is not shown."""

    HANDLING_CODE = "handling_code"  # its TLP code does not reach the caller
    PURGED = "purged"  # its retention ended: the text is gone, its hash remains


class MessageOut(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    seq: int = Field(description="Its place in the thread: 1, 2, 3... without gaps")
    side: Side = Field(description="Which side of the request wrote it")
    author_principal_id: uuid.UUID
    author_agency_id: uuid.UUID
    author: PersonRef = Field(
        description="Who wrote it: by name (and phone) where you may see that person, else "
        "by role, agency and country"
    )
    created_at: datetime
    handling_code: HandlingCode
    onward_use: list[OnwardUse]
    handling_note: str | None
    source_reliability: SourceReliability | None = Field(description=SOURCE_RELIABILITY_DESCRIPTION)
    information_accuracy: int | None = Field(description=INFORMATION_ACCURACY_DESCRIPTION)
    text_hash: str = Field(description="SHA-256 (hex) of the text's UTF-8 bytes")
    text: str | None = Field(description="Null when withheld (see `withheld`)")
    withheld: Withheld | None = Field(
        description="Why the text is null: handling_code (its TLP code does not reach you; "
        "auditors read no text at all) or purged; null when the text is shown"
    )


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
