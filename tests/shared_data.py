"""Shared data for tests: STIX objects, and partners' submissions written straight to the
tables the way the TAXII intake writes them (a data_submissions row, then one stix_objects row
per object, quarantined in the partner's inbox, without indicator values)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.canonical import sha256_hex
from app.core.database import Database
from app.models import DataCollection, DataSubmission, StixObject
from app.models.enums import CollectionKind, HandlingCode, ObjectOrigin, Triage
from app.stix.markings import handling_code_of, marking_ref
from tests.factories import Party


def indicator(
    address: str = "203.0.113.7",
    *,
    tlp: HandlingCode | None = HandlingCode.GREEN,
    name: str = "C2 server",
    modified: str = "2026-01-10T08:00:00.000Z",
    stix_id: str | None = None,
) -> dict[str, Any]:
    """A valid STIX 2.1 indicator of an IPv4 address."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": "2026-01-10T08:00:00.000Z",
        "modified": modified,
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": f"[ipv4-addr:value = '{address}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-10T08:00:00Z",
    }
    if tlp is not None:
        obj["object_marking_refs"] = [marking_ref(tlp)]
    return obj


async def inbox_of(database: Database, partner: Party) -> uuid.UUID:
    async with database.transaction() as session:
        inbox = await session.scalar(
            select(DataCollection.id).where(
                DataCollection.kind == CollectionKind.INBOX,
                DataCollection.owner_agency_id == partner.agency_id,
            )
        )
    assert inbox is not None
    return inbox


async def quarantine(
    database: Database,
    partner: Party,
    objects: Sequence[dict[str, Any]],
    *,
    retention: timedelta = timedelta(days=365),
) -> tuple[uuid.UUID, list[int]]:
    """A partner's submission of ``objects``, stored and quarantined: its id and row ids."""
    inbox = await inbox_of(database, partner)
    async with database.transaction() as session:
        now = (await session.execute(select(func.now()))).scalar_one()
        submission = DataSubmission(
            id=uuid.uuid4(),
            collection_id=inbox,
            agency_id=partner.agency_id,
            principal_id=partner.principal_id,
            format="stix",
            status="complete",
            total_count=len(objects),
            success_count=len(objects),
            failure_count=0,
            failures=[],
        )
        session.add(submission)
        await session.flush()
        rows = [
            StixObject(
                collection_id=inbox,
                submission_id=submission.id,
                origin=ObjectOrigin.SUBMITTED,
                stix_id=obj["id"],
                type=obj["type"],
                spec_version="2.1",
                version=_instant(obj.get("modified") or obj.get("created")) or now,
                object=obj,
                object_hash=sha256_hex(obj),
                handling_code=handling_code_of(obj) or HandlingCode.GREEN,
                triage=Triage.QUARANTINED,
                purge_after=now + retention,
            )
            for obj in objects
        ]
        session.add_all(rows)
        await session.flush()
        return submission.id, [row.row_id for row in rows]


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
