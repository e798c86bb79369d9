"""What statistics of requests (response analytics, reports) filter on: a drill is no real
request, and ``requests.drill_id IS NULL`` is the one test of a real one."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from app.models import CooperationRequest


def real_requests() -> ColumnElement[bool]:
    """The requests that count: every request but the readiness drills."""
    return CooperationRequest.drill_id.is_(None)
