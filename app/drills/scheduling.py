"""Scheduling drills: who may drill which desk, when a drill is sent (drawn once, here, so
that a restart neither moves nor repeats it), and calling one off before it is sent."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.database import wake_after_commit
from app.core.errors import ConflictError, InvalidInputError
from app.drills import outcomes
from app.drills.schemas import DrillSchedule, ScheduledDrills
from app.identity import policy
from app.identity.auth import Actor
from app.models import Country, Drill

# The wake-up every instance's drill worker listens for: a drill due before its next look.
WAKE_CHANNEL = "drills"
OBJECT_TYPE = "drill"
# Drills are planned this far ahead at most, and a window spans this much at most: a drill
# is a check of tonight's or next week's desk, not a calendar.
MAX_LEAD = timedelta(days=366)
MAX_WINDOW = timedelta(days=31)
# Times a hair in the past (a client's clock, the trip here) still mean "now".
_NOW_SLACK = timedelta(seconds=5)
_draw = random.SystemRandom()


def _due_times(draft: DrillSchedule, desks: int) -> list[tuple[datetime, datetime, datetime]]:
    """(window_start, window_end, due_at) for each desk: the time asked, or one drawn within
    the window for each desk on its own."""
    if draft.at is not None:
        return [(draft.at, draft.at, draft.at)] * desks
    # The schema's rule: no ``at``, so both ends of a window.
    assert draft.window_start is not None
    assert draft.window_end is not None
    start, end = draft.window_start, draft.window_end
    span = (end - start).total_seconds()
    return [(start, end, start + timedelta(seconds=_draw.uniform(0, span))) for _ in range(desks)]


def _check_times(draft: DrillSchedule, now: datetime) -> None:
    first = draft.at if draft.at is not None else draft.window_start
    field = "at" if draft.at is not None else "window_start"
    assert first is not None
    if first < now - _NOW_SLACK:
        raise InvalidInputError(f"is in the past ({first.isoformat()})", field=field)
    last = draft.at if draft.at is not None else draft.window_end
    assert last is not None
    if last > now + MAX_LEAD:
        raise InvalidInputError(
            f"is more than {MAX_LEAD.days} days ahead", field="at" if draft.at else "window_end"
        )
    if (
        draft.window_start is not None
        and draft.window_end is not None
        and draft.window_end - draft.window_start > MAX_WINDOW
    ):
        raise InvalidInputError(
            f"a window spans {MAX_WINDOW.days} days at most", field="window_end"
        )


async def schedule(
    session: AsyncSession, actor: Actor, draft: DrillSchedule, *, poll_interval: timedelta
) -> ScheduledDrills:
    """One drill per desk asked. The global desk drills any desk, an NCB its own (403 for
    another's, before anything is written); an unknown country is a 422 naming it."""
    for country in draft.countries:
        policy.require(actor, policy.Action.SCHEDULE_DRILL, policy.Owner(country=country))
    known = set(
        await session.scalars(select(Country.code).where(Country.code.in_(draft.countries)))
    )
    unknown = [code for code in draft.countries if code not in known]
    if unknown:
        raise InvalidInputError(
            f"{', '.join(unknown)}: not a country of the network", field="countries"
        )
    now = await session.scalar(select(func.now()))
    assert now is not None
    _check_times(draft, now)
    drills = [
        Drill(
            id=uuid.uuid4(),
            target_country=country,
            priority=draft.priority,
            scheduled_by=actor.principal_id,
            scheduled_by_agency_id=actor.agency_id,
            window_start=start,
            window_end=end,
            due_at=due,
        )
        for country, (start, end, due) in zip(
            draft.countries, _due_times(draft, len(draft.countries)), strict=True
        )
    ]
    session.add_all(drills)
    await session.flush()
    # The drill's time is not content, but the drilled country must not learn it from
    # anyone: the entry concerns the scheduler's own country (an NCB's, added by the trail)
    # and the network's auditors, not the drilled country's when another scheduled it.
    await audit.record_each(
        session,
        actor,
        "drill.scheduled",
        object_type=OBJECT_TYPE,
        entries=[
            audit.Entry(
                str(drill.id),
                None,
                {
                    "target_country": drill.target_country,
                    "priority": drill.priority.value,
                    "due_at": drill.due_at.isoformat(),
                },
            )
            for drill in drills
        ],
    )
    if min(drill.due_at for drill in drills) - now < poll_interval:
        wake_after_commit(session, WAKE_CHANNEL)
    shown = {drill.id: drill for drill in await outcomes.find(session, [d.id for d in drills])}
    return ScheduledDrills(items=[outcomes.view(shown[drill.id]) for drill in drills])


async def cancel(session: AsyncSession, actor: Actor, drill_id: uuid.UUID) -> None:
    """Call off a drill not yet sent (409 once sent: its request is a request like any)."""
    drill = await outcomes.find_visible(session, actor, drill_id, lock=True)
    policy.require(actor, policy.Action.SCHEDULE_DRILL, policy.owner_of(drill.drill))
    if drill.drill.fired_at is not None:
        raise ConflictError("the drill has been sent: acknowledge its request instead")
    if drill.drill.cancelled_at is not None:
        return
    drill.drill.cancelled_at = await session.scalar(select(func.now()))
    await audit.record(
        session,
        actor,
        "drill.cancelled",
        object_type=OBJECT_TYPE,
        object_id=str(drill_id),
        countries=(),  # as its scheduling: the scheduler's country and the network's
    )
