"""/v1/countries/{cc}/roster and /on-duty: a country's duty roster, thin routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import CountryCode, Text
from app.rosters import manage, views
from app.rosters.schemas import (
    GapList,
    OnDutyOut,
    OverrideCreate,
    OverrideOut,
    OverridePage,
    RosterInstant,
    RotationCreate,
    RotationEnd,
    RotationOut,
    RotationPage,
    ShiftList,
)

router = APIRouter(prefix="/v1/countries/{cc}", tags=["rosters"])

Country = Annotated[CountryCode, Path(description="The country whose desk's roster this is")]
PageCursor = Annotated[Annotated[str, Text(max_length=512)] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
From = Annotated[RosterInstant, Query(alias="from", description="Start of the window")]
To = Annotated[RosterInstant, Query(description="End of the window (at most 93 days on)")]
_READ = problems.responses(403, 404)
_WRITE = problems.responses(403, 404)


@router.get("/on-duty", response_model=OnDutyOut, responses=_READ)
async def on_duty(
    cc: Country,
    session: Session,
    actor: CurrentActor,
    at: Annotated[RosterInstant | None, Query(description="Default: now")] = None,
) -> OnDutyOut:
    """Who is on duty at an instant, primary and backup, each with their whole shift."""
    return await views.on_duty(session, actor, cc, at)


@router.get("/roster/rotations", response_model=RotationPage, responses=_READ)
async def list_rotations(
    cc: Country,
    session: Session,
    actor: CurrentActor,
    cursor: PageCursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> RotationPage:
    """The country's rotations, ended ones included, newest first."""
    return await manage.list_rotations(session, actor, cc, cursor=cursor, limit=limit)


@router.post("/roster/rotations", status_code=201, response_model=RotationOut, responses=_WRITE)
async def add_rotation(
    cc: Country, body: RotationCreate, session: Session, actor: CurrentActor
) -> RotationOut:
    """Add a rotation. From its first hand-off it governs its layer, replacing any rotation
    that started earlier (which governs again if this one ends first)."""
    return await manage.add_rotation(session, actor, cc, body)


@router.post(
    "/roster/rotations/{rotation_id}/end",
    response_model=RotationOut,
    responses=problems.responses(403, 404, 409),
)
async def end_rotation(
    cc: Country,
    rotation_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    body: RotationEnd | None = None,
) -> RotationOut:
    """End a rotation now (no body, or no `at`), or at a later instant."""
    at = body.at if body is not None else None
    return await manage.end_rotation(session, actor, cc, rotation_id, at)


@router.get("/roster/overrides", response_model=OverridePage, responses=_READ)
async def list_overrides(
    cc: Country,
    session: Session,
    actor: CurrentActor,
    cursor: PageCursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> OverridePage:
    """The country's overrides, cancelled ones included, newest first."""
    return await manage.list_overrides(session, actor, cc, cursor=cursor, limit=limit)


@router.post("/roster/overrides", status_code=201, response_model=OverrideOut, responses=_WRITE)
async def add_override(
    cc: Country, body: OverrideCreate, session: Session, actor: CurrentActor
) -> OverrideOut:
    """Add a cover, a swap or a leave. Covers of one layer, swaps of one layer and leaves of
    one person may not overlap."""
    return await manage.add_override(session, actor, cc, body)


@router.delete(
    "/roster/overrides/{override_id}", status_code=204, response_class=Response, responses=_WRITE
)
async def cancel_override(
    cc: Country, override_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    """Cancel an override. It is kept, marked cancelled, for history."""
    await manage.cancel_override(session, actor, cc, override_id)
    return Response(status_code=204)


@router.get("/roster/shifts", response_model=ShiftList, responses=_READ)
async def shifts(
    cc: Country, session: Session, actor: CurrentActor, from_: From, to: To
) -> ShiftList:
    """Resolved shifts of both layers within [from, to): rotations with covers, swaps, leaves
    and disabled principals applied."""
    return await views.shifts(session, actor, cc, from_, to)


@router.get(
    "/roster/shifts.ics",
    response_class=Response,
    responses={
        200: {
            "description": "The same shifts as an iCalendar (RFC 5545) feed",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        },
        **_READ,
    },
)
async def shifts_calendar(
    cc: Country, session: Session, actor: CurrentActor, from_: From, to: To
) -> Response:
    """The shifts of [from, to) as iCalendar, for the desk's calendar applications."""
    body = await views.calendar(session, actor, cc, from_, to)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="roster-{cc}.ics"'},
    )


@router.get("/roster/gaps", response_model=GapList, responses=_READ)
async def gaps(cc: Country, session: Session, actor: CurrentActor, from_: From, to: To) -> GapList:
    """Periods within [from, to) where the primary or the backup layer has nobody on duty."""
    return await views.gaps(session, actor, cc, from_, to)
