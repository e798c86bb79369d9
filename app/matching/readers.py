"""Who may read a stored object, as SQL: the collection and the object's handling code.

Written here for matching (app/sharing/collections.py, the taxii helper's, decides the same
for TAXII reads; the two must agree, and tests/test_matches.py holds this side):

- the gateway collection: every member country's units, desks and NCBs, and the global desk;
- a share: its owner agency, the countries of its ``audience`` (NULL: the whole network) and
  the global desk;
- an inbox (quarantine): nobody here (its rows carry no indicator values and never match);
- TLP:CLEAR, GREEN and AMBER objects: every reader of the collection; AMBER+STRICT and RED:
  the submitting agency (a share's owner; a partner never reads requests) and the global desk;
- a purged object: nobody.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, any_, false, literal, or_, true

from app.identity.auth import Actor
from app.models import DataCollection, StixObject, table_of
from app.models.enums import CollectionKind, HandlingCode, Role

collections = table_of(DataCollection)
objects = table_of(StixObject)

# What every reader of a collection reads; stricter codes go to the submitter and the GS.
OPEN_CODES = (HandlingCode.CLEAR, HandlingCode.GREEN, HandlingCode.AMBER)
# The roles of member countries' agencies that read shared data.
MEMBER_ROLES = frozenset({Role.UNIT, Role.CONTACT_POINT, Role.NCB})


def member_reads(
    agency_id: ColumnElement[uuid.UUID] | uuid.UUID,
    country: ColumnElement[str] | str,
) -> ColumnElement[bool]:
    """Whether a member of ``agency_id`` in ``country`` reads the object (``objects`` joined
    with its collection ``collections``): values, or columns of a row (a request's sender)."""
    c, o = collections.c, objects.c
    collection = or_(
        c.kind == CollectionKind.GATEWAY,
        and_(
            c.kind == CollectionKind.SHARE,
            or_(
                c.owner_agency_id == agency_id,
                c.audience.is_(None),
                # A value or a column: either way an SQL expression compared with ANY.
                literal(country) == any_(c.audience)
                if isinstance(country, str)
                else country == any_(c.audience),
            ),
        ),
    )
    handling = or_(o.handling_code.in_(OPEN_CODES), c.owner_agency_id == agency_id)
    return and_(o.purged_at.is_(None), collection, handling)


def readable_by(actor: Actor) -> ColumnElement[bool]:
    """Whether ``actor`` reads the object: the global desk every stored one, members by
    :func:`member_reads`, nobody else (auditors, admins, partners)."""
    if actor.role is Role.GS:
        return and_(
            objects.c.purged_at.is_(None), collections.c.kind != CollectionKind.INBOX, true()
        )
    if actor.role in MEMBER_ROLES:
        return member_reads(actor.agency_id, actor.country)
    return false()
