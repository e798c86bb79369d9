"""Reports made, listed and downloaded: one transaction each, with its audit entry.

A report is generated in one transaction: the figures read (app/reports/content.py), the PDF
and CSV rendered, the manifest signed with the service key (published, not retired before
the transaction ends: app/audit/keys.py), the row and a ``report.generated`` audit entry
written. A periodic report is made under an advisory lock of its scope, kind and period, and
only if it does not exist: two instances make it once (the unique index is the last word)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app import audit
from app.audit.chain import utc_timestamp
from app.audit.keys import KeyHolder, SigningKey, SigningKeyError, cannot_sign
from app.core.errors import InvalidInputError, NotFoundError
from app.core.pagination import Cursor
from app.identity import policy
from app.identity.auth import Actor
from app.models import Country, Report
from app.reports import content as report_content
from app.reports import pdf, periods, signing, tables
from app.reports.schemas import NETWORK, ReportKind, ReportOut, ReportPage, ReportRequest

OBJECT_TYPE = "report"
# One lock per scope, kind and period: a 64-bit hash of its name, seeded with "REPT".
_PERIOD_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 1380274260))")
_NOW = text("SELECT clock_timestamp()")


def owner_of_scope(scope: str) -> policy.Owner:
    return policy.NETWORK if scope == NETWORK else policy.Owner(country=scope)


def _countries(scope: str) -> list[str]:
    return [] if scope == NETWORK else [scope]


def view(report: Report) -> ReportOut:
    base = f"/v1/reports/{report.id}"
    return ReportOut(
        id=report.id,
        scope=report.scope,
        kind=ReportKind(report.kind),
        period_start=report.period_start,
        period_end=report.period_end,
        generated_at=report.generated_at,
        pdf_sha256=report.pdf_sha256,
        csv_sha256=report.csv_sha256,
        key_id=report.key_id,
        links={"pdf": f"{base}/pdf", "csv": f"{base}/csv", "manifest": f"{base}/manifest"},
    )


async def _key(session: AsyncSession, keys: KeyHolder) -> SigningKey:
    try:
        return await keys.for_signing(session)
    except SigningKeyError as exc:
        raise cannot_sign("reports", exc) from None


@dataclass(frozen=True, slots=True)
class Files:
    pdf: bytes
    csv: bytes


def _render(content: report_content.Content, report_id: str, generated_at: str) -> Files:
    return Files(
        pdf.render(content, report_id, generated_at),
        tables.to_csv(content, report_id, generated_at),
    )


async def generate(
    session: AsyncSession,
    keys: KeyHolder,
    actor: Actor | None,
    *,
    scope: str,
    kind: ReportKind,
    start: date,
    end: date,
) -> Report:
    """Make, sign, store and audit the report (no authorization: the caller decided)."""
    found = await report_content.gather(session, scope, kind, start, end)
    # The key once the figures are read: its lock (shared with every signer, exclusive to a
    # rotation) is held for the drawing and the writing only, not the seconds of reading.
    key = await _key(session, keys)
    generated_at = (await session.execute(_NOW)).scalar_one()
    stamp = utc_timestamp(generated_at)
    report_id = uuid.uuid4()
    # Drawing is CPU work of tens of milliseconds: off the event loop.
    files = await asyncio.to_thread(_render, found, str(report_id), stamp)
    members = {
        "report_id": str(report_id),
        "scope": scope,
        "kind": kind.value,
        "period_start": utc_timestamp(found.start),
        "period_end": utc_timestamp(found.end),
        "generated_at": stamp,
        "pdf_sha256": signing.sha256(files.pdf),
        "csv_sha256": signing.sha256(files.csv),
    }
    manifest = signing.sign(key, members)
    report = Report(
        id=report_id,
        scope=scope,
        country=None if scope == NETWORK else scope,
        kind=kind.value,
        period_start=found.start,
        period_end=found.end,
        generated_at=generated_at,
        requested_by=actor.principal_id if actor else None,
        pdf=files.pdf,
        csv=files.csv,
        pdf_sha256=members["pdf_sha256"],
        csv_sha256=members["csv_sha256"],
        manifest=manifest,
        key_id=key.key_id,
    )
    session.add(report)
    await session.flush()
    await audit.record(
        session,
        actor,
        "report.generated",
        object_type=OBJECT_TYPE,
        object_id=str(report_id),
        countries=_countries(scope),
        content_hash=signing.sha256(manifest),
        details={key: value for key, value in members.items() if key != "report_id"},
    )
    return report


async def generate_periodic(
    session: AsyncSession, keys: KeyHolder, *, scope: str, kind: ReportKind, start: date, end: date
) -> Report | None:
    """The periodic report of ``scope`` over [start, end), unless it exists: None then. Two
    callers at once wait for each other on the period's lock; the second finds it made."""
    name = f"report:{scope}:{kind.value}:{start.isoformat()}"
    await session.execute(_PERIOD_LOCK, {"name": name})
    exists = await session.scalar(
        select(func.count())
        .select_from(Report)
        .where(
            Report.scope == scope,
            Report.kind == kind.value,
            Report.period_start == periods.midnight(start),
        )
    )
    if exists:
        return None
    return await generate(session, keys, None, scope=scope, kind=kind, start=start, end=end)


async def request_report(
    session: AsyncSession, actor: Actor, keys: KeyHolder, body: ReportRequest
) -> ReportOut:
    """An on-demand report: the global desk's of the network or any country, an NCB's of its
    own country (403 otherwise); a 422 for a period no report covers or an unknown country."""
    policy.require(actor, policy.Action.GENERATE_REPORT, owner_of_scope(body.scope))
    periods.check_on_demand(body.start, body.end, datetime.now(UTC).date())
    if body.scope != NETWORK and await session.get(Country, body.scope) is None:
        raise InvalidInputError(f"no country {body.scope} in the network", field="scope")
    report = await generate(
        session, keys, actor, scope=body.scope, kind=ReportKind.ON_DEMAND,
        start=body.start, end=body.end,
    )  # fmt: skip
    return view(report)


_METADATA = (defer(Report.pdf, raiseload=True), defer(Report.csv, raiseload=True),
             defer(Report.manifest, raiseload=True))  # fmt: skip


async def list_reports(
    session: AsyncSession,
    actor: Actor,
    *,
    scope: str | None,
    kind: ReportKind | None,
    cursor: str | None,
    limit: int,
) -> ReportPage:
    """The reports the actor may read, newest first."""
    policy.require(actor, policy.Action.READ_REPORTS)
    query = (
        select(Report)
        .options(*_METADATA)
        .where(policy.where(actor, policy.Action.READ_REPORTS, Report))
    )
    if scope is not None:
        query = query.where(Report.scope == scope)
    if kind is not None:
        query = query.where(Report.kind == kind.value)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(
            (Report.created_at, Report.id) < (after.created_at, after.id)  # type: ignore[operator]
        )
    rows = list(
        await session.scalars(
            query.order_by(Report.created_at.desc(), Report.id.desc()).limit(limit + 1)
        )
    )
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return ReportPage(
        items=[view(report) for report in page],
        next_cursor=Cursor(last.created_at, last.id).encode() if more and last else None,
    )


async def _visible(session: AsyncSession, actor: Actor, report_id: uuid.UUID) -> Report:
    """The report, or a 404 when it does not exist or the actor may not read it (a country's
    report is no business of another country: it is not said to exist)."""
    policy.require(actor, policy.Action.READ_REPORTS)
    report = await session.get(Report, report_id, options=_METADATA)
    if report is None or not policy.permits(actor, policy.Action.READ_REPORTS, report):
        raise NotFoundError(f"no report {report_id}")
    return report


async def get(session: AsyncSession, actor: Actor, report_id: uuid.UUID) -> ReportOut:
    return view(await _visible(session, actor, report_id))


PARTS = {"pdf": Report.pdf, "csv": Report.csv, "manifest": Report.manifest}


async def download(
    session: AsyncSession, actor: Actor, report_id: uuid.UUID, part: str
) -> tuple[bytes, Report]:
    """One of the report's files, as stored; the download is audited."""
    report = await _visible(session, actor, report_id)
    data = await session.scalar(select(PARTS[part]).where(Report.id == report_id))
    assert data is not None
    await audit.record(
        session,
        actor,
        "report.downloaded",
        object_type=OBJECT_TYPE,
        object_id=str(report_id),
        countries=_countries(report.scope),
        content_hash=signing.sha256(data),
        details={"part": part},
    )
    return data, report
