"""/v1/drills: readiness drills of the 24/7 desks (app/drills/). Thin routes, one service call
each."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session, SettingsOf
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import CountryCode, Instant, Text
from app.drills import outcomes, scheduling
from app.drills.schemas import DrillOut, DrillPage, DrillResults, DrillSchedule, ScheduledDrills

router = APIRouter(prefix="/v1/drills", tags=["drills"])


@router.post("", status_code=201, response_model=ScheduledDrills, responses=problems.responses(403))
async def schedule_drills(
    body: DrillSchedule, session: Session, actor: CurrentActor, settings: SettingsOf
) -> ScheduledDrills:
    """Schedule a readiness drill of each desk named: the global desk drills any desk, an NCB
    its own country's. Each is sent at `at`, or at a time drawn for it alone within
    [`window_start`, `window_end`], as a request marked as a drill (`drill_id`, headline
    DRILL) through the desk's normal routing, alerts and escalation; acknowledging it is
    acknowledging a request. A time in the past, an inverted window or an unknown country
    is a 422."""
    return await scheduling.schedule(
        session, actor, body, poll_interval=settings.exchange.deadline_poll_interval
    )


@router.get("", response_model=DrillPage, responses=problems.responses(403))
async def list_drills(
    session: Session,
    actor: CurrentActor,
    country: Annotated[
        CountryCode | None, Query(description="Only the drills of this desk")
    ] = None,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DrillPage:
    """The drills you may see, latest due first, each with its result: the global desk's
    all, an NCB's its country's (those another agency scheduled only once sent)."""
    return await outcomes.list_drills(session, actor, country=country, cursor=cursor, limit=limit)


@router.get("/results", response_model=DrillResults, responses=problems.responses(403))
async def drill_results(
    session: Session,
    actor: CurrentActor,
    country: Annotated[CountryCode | None, Query(description="Only this desk")] = None,
    since: Annotated[Instant | None, Query(description="Drills sent from then on")] = None,
    until: Annotated[Instant | None, Query(description="Drills sent before then")] = None,
) -> DrillResults:
    """Per desk, its drills sent in the period: acknowledged, failed (overdue), waiting, and
    the time to acknowledge (median, p90, slowest; from delivery to the acknowledgement)."""
    return await outcomes.results(session, actor, country=country, since=since, until=until)


@router.get("/{drill_id}", response_model=DrillOut, responses=problems.responses(403, 404))
async def get_drill(drill_id: uuid.UUID, session: Session, actor: CurrentActor) -> DrillOut:
    """One drill and its result."""
    return await outcomes.get(session, actor, drill_id)


@router.delete(
    "/{drill_id}",
    status_code=204,
    response_class=Response,
    responses=problems.responses(403, 404, 409),
)
async def cancel_drill(drill_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """Call off a drill not yet sent (409 once sent)."""
    await scheduling.cancel(session, actor, drill_id)
    return Response(status_code=204)
