"""Event channels: who hears what.

A channel is a country's desk (``desk:FR``), an agency (``agency:<uuid>``), a person
(``principal:<uuid>``: what is assigned to them) or the global desk (``global``: what is
addressed to the global desk itself). Every request event is published on its target
country's desk, so the global desk, which must see all of them, follows every desk channel:
one counter per country, never one counter row that all intake would queue on. How an event
takes its offset on a channel is app/realtime/event_log.py's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.identity import policy
from app.identity.auth import Actor
from app.models import Channel, Country

GLOBAL_DESK = "global"
# The triage queue of partners' data (app/sharing/triage.py): counts for those who triage.
# A channel of its own, not the global desk's: webhooks of the global desk's case system hear
# that one, and this is no request event.
TRIAGE_CHANNEL = "triage"
DESK_PREFIX = "desk:"


def desk_channel(country: str) -> str:
    return f"{DESK_PREFIX}{country}"


def agency_channel(agency_id: uuid.UUID) -> str:
    return f"agency:{agency_id}"


def principal_channel(principal_id: uuid.UUID) -> str:
    """What is addressed to one person: the requests assigned to them."""
    return f"principal:{principal_id}"


async def channels_for(
    actor: Actor, connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]]
) -> list[str]:
    """The channels an actor's sockets follow, by the scopes app/identity/policy.py gives its
    role to receive pushes. ``connect`` is used only for an ``any`` scope (the global desk), whose
    channels are every country's: no other socket pays a connection for this."""
    granted = policy.scopes(actor, policy.Action.RECEIVE_PUSHES)
    channels: list[str] = []
    if policy.Scope.ANY in granted:
        async with connect() as connection:
            countries = await connection.scalars(select(Country.code).order_by(Country.code))
            channels += [GLOBAL_DESK, *(desk_channel(code) for code in countries)]
    if policy.permits(actor, policy.Action.TRIAGE_DATA):
        channels.append(TRIAGE_CHANNEL)
    if policy.Scope.OWN_COUNTRY in granted:
        channels.append(desk_channel(actor.country))
    if policy.Scope.OWN_AGENCY in granted:
        channels.append(agency_channel(actor.agency_id))
    if policy.Scope.SELF in granted:
        channels.append(principal_channel(actor.principal_id))
    return list(dict.fromkeys(channels))


def prefix_followed_by(actor: Actor) -> str | None:
    """Channels an actor's sockets also follow when they appear while connected: whoever hears
    every country follows the desk of a country that joins the network meanwhile."""
    granted = policy.scopes(actor, policy.Action.RECEIVE_PUSHES)
    return DESK_PREFIX if policy.Scope.ANY in granted else None


async def desk_channels(connection: AsyncConnection) -> list[str]:
    """Every desk channel that has had an event (the global desk's safety net finds new
    countries' desks with it when a wake-up was lost)."""
    rows = await connection.scalars(
        select(Channel.name).where(Channel.name.startswith(DESK_PREFIX, autoescape=True))
    )
    return list(rows)
