"""Who reads which stored object, as one SQL condition for lists and one check for a row.

The collection decides first (app/sharing/collections.py is the TAXII side's statement of
the same rule; this module is the REST side's, kept to it): the gateway is read by every
member country's units, desks and NCBs; a share by its owner agency and the countries of its
audience (NULL: the whole network); an inbox by its partner. The global desk reads all.
Then the handling code: CLEAR, GREEN and AMBER reach every reader of the collection;
AMBER+STRICT and RED only the agency that submitted the object (an inbox's partner, a
share's owner) and the global desk.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, true

from app.identity import policy
from app.identity.auth import Actor
from app.models import DataCollection, StixObject
from app.models.enums import CollectionKind, HandlingCode, Role

OPEN_CODES = (HandlingCode.CLEAR, HandlingCode.GREEN, HandlingCode.AMBER)


def sees_everything(actor: Actor) -> bool:
    """The global desk: it triages, so it reads every collection at every code."""
    return policy.permits(actor, policy.Action.TRIAGE_DATA)


def readable(actor: Actor) -> ColumnElement[bool]:
    """Rows of StixObject (joined to its DataCollection) the actor may read."""
    if sees_everything(actor):
        return true()
    if not policy.permits(actor, policy.Action.READ_SHARED_DATA):
        return false()
    c = DataCollection
    own = c.owner_agency_id == actor.agency_id
    if actor.role is Role.PARTNER:
        return and_(c.kind == CollectionKind.INBOX, own)
    collection = or_(
        c.kind == CollectionKind.GATEWAY,
        and_(
            c.kind == CollectionKind.SHARE,
            or_(own, c.audience.is_(None), c.audience.any_() == actor.country),
        ),
    )
    return and_(collection, or_(StixObject.handling_code.in_(OPEN_CODES), own))
