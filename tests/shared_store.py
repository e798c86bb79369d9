"""Rows of the shared-data store, written as intake will write them: a share collection, its
STIX objects and their indicator values in one transaction, then matching
(app.matching.on_new_objects) in that same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from app.core.canonical import sha256_hex
from app.core.database import Database
from app.matching import on_new_objects
from app.models import DataCollection, IndicatorValue, StixObject, table_of
from app.models.enums import CollectionKind, HandlingCode, ObjectOrigin
from app.stix.identifiers import identifiers_of
from tests.factories import Party


def sco(stix_type: str, value: str) -> dict[str, Any]:
    """A STIX cyber-observable with a value (ipv4-addr, domain-name...)."""
    return {
        "type": stix_type,
        "spec_version": "2.1",
        "id": f"{stix_type}--{uuid.uuid4()}",
        "value": value,
    }


async def share(
    database: Database,
    agency_party: Party,
    objects: Sequence[dict[str, Any]],
    audience: Sequence[str] | None = None,
    *,
    handling: HandlingCode = HandlingCode.GREEN,
    before_commit: Callable[[], Awaitable[None]] | None = None,
) -> list[int]:
    """A share of ``agency_party``'s agency read by ``audience`` (None: the whole network),
    holding ``objects`` under ``handling``; their row ids, matched against open requests."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        collection_id = uuid.uuid4()
        await session.execute(
            insert(table_of(DataCollection)).values(
                id=collection_id,
                kind=CollectionKind.SHARE,
                title=f"Share of {agency_party.country} ({len(objects)} objects)",
                owner_agency_id=agency_party.agency_id,
                audience=list(audience) if audience is not None else None,
                created_by=agency_party.principal_id,
            )
        )
        row_ids = list(
            await session.scalars(
                insert(table_of(StixObject))
                .values(
                    [
                        {
                            "collection_id": collection_id,
                            "origin": ObjectOrigin.SUBMITTED,
                            "stix_id": obj["id"],
                            "type": obj["type"],
                            "spec_version": "2.1",
                            "version": now,
                            "object": obj,
                            "object_hash": sha256_hex(obj),
                            "handling_code": handling,
                            "purge_after": now + timedelta(days=365),
                        }
                        for obj in objects
                    ]
                )
                .returning(table_of(StixObject).c.row_id)
            )
        )
        values = [
            {"kind": kind, "value": value, "object_row_id": row_id}
            for row_id, obj in zip(row_ids, objects, strict=True)
            for kind, value in set(identifiers_of(obj))
        ]
        if values:
            await session.execute(insert(table_of(IndicatorValue)), values)
        await on_new_objects(session, row_ids)
        if before_commit is not None:  # what others commit while this one is still open
            await before_commit()
    return row_ids
