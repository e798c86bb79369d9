"""/v1/reports: cyber analytical reports (app/reports/). Thin routes, one service call each."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.audit.keys import KeyHolder
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.exchange.files import serving
from app.reports import commands
from app.reports.schemas import ReportKind, ReportOut, ReportPage, ReportRequest

router = APIRouter(prefix="/v1/reports", tags=["reports"])


async def _signing_keys(request: Request) -> KeyHolder:
    keys: KeyHolder = request.app.state.signing_keys
    return keys


SigningKeys = Annotated[KeyHolder, Depends(_signing_keys)]
Scope = Annotated[str, Text(pattern=r"^(network|[A-Z]{2})$")]


@router.post("", status_code=201, response_model=ReportOut, responses=problems.responses(403))
async def generate_report(
    body: ReportRequest, session: Session, actor: CurrentActor, keys: SigningKeys
) -> ReportOut:
    """Generate a report now over whole UTC days [`from`, `to`) (at most 366, ending by
    tomorrow): the network's (the global desk only) or a country's (the global desk, or that
    country's NCB). It holds what its scope may see: a country's report counts the requests
    its country sent or received, its own desk's drills and the shared data its members
    read. Its PDF, CSV and the manifest signed with the service key are then downloadable;
    `relay247 report verify` checks them offline."""
    return await commands.request_report(session, actor, keys, body)


@router.get("", response_model=ReportPage, responses=problems.responses(403))
async def list_reports(
    session: Session,
    actor: CurrentActor,
    scope: Annotated[Scope | None, Query(description="`network` or a country code")] = None,
    kind: Annotated[ReportKind | None, Query(description="weekly, monthly, on_demand")] = None,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> ReportPage:
    """The reports you may read, newest first: the global desk's all, an NCB's its own
    country's (never the network's nor another country's)."""
    return await commands.list_reports(
        session, actor, scope=scope, kind=kind, cursor=cursor, limit=limit
    )


@router.get("/{report_id}", response_model=ReportOut, responses=problems.responses(403, 404))
async def get_report(report_id: uuid.UUID, session: Session, actor: CurrentActor) -> ReportOut:
    """One report's facts and links (404 for a report you may not read)."""
    return await commands.get(session, actor, report_id)


_MEDIA = {"pdf": "application/pdf", "csv": "text/csv", "manifest": "application/json"}
_NAMES = {"pdf": "report.pdf", "csv": "report.csv", "manifest": "manifest.json"}


def _file_responses(part: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": f"The report's {part}", "content": {_MEDIA[part]: {}}},
        **problems.responses(403, 404),
    }


async def _download(
    session: Session, actor: CurrentActor, report_id: uuid.UUID, part: str
) -> Response:
    data, report = await commands.download(session, actor, report_id, part)
    name = f"relay247-report-{report.scope}-{report.period_start.date()}-{_NAMES[part]}"
    return Response(
        data,
        media_type=_MEDIA[part],
        # Each download is audited: no cache keeps a copy to be read without an entry.
        headers={
            **serving.HEADERS,
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{report_id}/pdf", response_class=Response, responses=_file_responses("pdf"))
async def report_pdf(report_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """The report as a PDF, as generated (an audited download)."""
    return await _download(session, actor, report_id, "pdf")


@router.get("/{report_id}/csv", response_class=Response, responses=_file_responses("csv"))
async def report_csv(report_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """Every figure of the report, one a line: `section,group,metric,value` (audited)."""
    return await _download(session, actor, report_id, "csv")


@router.get("/{report_id}/manifest", response_class=Response, responses=_file_responses("manifest"))
async def report_manifest(report_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """The manifest the service signed: the report's facts, the SHA-256 of its PDF and CSV,
    the key id and the Ed25519 signature (RFC 8785 JSON; audited)."""
    return await _download(session, actor, report_id, "manifest")
