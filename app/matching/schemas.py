"""What GET /v1/requests/{id}/matches answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.models.enums import CollectionKind, HandlingCode, IdentifierKind


class MatchOut(BaseModel):
    """A shared object carrying one of the request's identifiers."""

    kind: IdentifierKind = Field(description="The identifier's kind")
    value: str = Field(description="The request's identifier it carries, normalized")
    object_row_id: int = Field(description="The stored object's row (what the audit names)")
    stix_id: str = Field(description="The STIX object's id")
    type: str = Field(description="Its STIX type (indicator, ipv4-addr...)")
    handling_code: HandlingCode = Field(description="Its TLP code")
    collection_id: uuid.UUID = Field(description="The TAXII collection holding it")
    collection_title: str
    collection_kind: CollectionKind = Field(description="gateway (partners') or share")
    date_added: datetime = Field(description="When it joined the store")
    provenance: str | None = Field(
        description="Who it comes from: the partner (gateway) or the sharing agency"
    )
    found_at: datetime = Field(description="When the match was found")
    url: str = Field(description="The object in TAXII 2.1, which the reader may follow")


class IdentifierReports(BaseModel):
    """ "This address appears in N shared reports": per identifier, the distinct objects the
    reader may see that carry it."""

    kind: IdentifierKind
    value: str
    reports: int = Field(description="Distinct STIX objects (by id) carrying it")


class MatchPage(BaseModel):
    identifiers: list[IdentifierReports] = Field(
        description="Per identifier with matches, how many shared reports carry it (all pages)"
    )
    total: int = Field(description="Matches the reader may see, over all pages")
    items: list[MatchOut] = Field(description="Oldest object first")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
