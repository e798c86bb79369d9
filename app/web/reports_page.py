"""/web/reports: the cyber analytical reports the reader may read (the global desk's all, an
NCB's its own country's), newest first, each with its PDF, CSV and signed manifest, and how to
verify them offline. The list is app/reports/commands.py's, under the reader's own rights."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import DatabaseOf
from app.core.errors import DomainError
from app.reports import commands
from app.reports.schemas import ReportOut
from app.web import pages
from app.web.security import WEB_PREFIX


def last_day(end: datetime) -> str:
    """The last day a period covers, for a person (``period_end`` is the midnight after)."""
    return (end - timedelta(days=1)).date().isoformat()


router = APIRouter(prefix=WEB_PREFIX, include_in_schema=False)
SHOWN = 100


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request, database: DatabaseOf, signed_in: pages.SignedIn
) -> Response:
    if signed_in is None:
        return pages.to_sign_in()
    reports: list[ReportOut] = []
    problem = None
    try:
        async with pages.transaction(database) as session:
            page = await commands.list_reports(
                session, signed_in.actor, scope=None, kind=None, cursor=None, limit=SHOWN
            )
            reports = page.items
    except DomainError as refused:
        problem = refused.detail
    return pages.render(
        request,
        signed_in,
        "reports.html",
        page="reports",
        reports=reports,
        problem_text=problem,
        last_day=last_day,
    )
