"""Who reads which shared data: the one statement of the rule, for a collection (in Python
for one, in SQL for a list) and for the objects in it (in SQL), used by TAXII, the REST
routes, triage and matching alike, so that no list shows what a GET would refuse.

Collections:

- the gateway (partners' data the global desk accepted): read by every member country's
  units, desks and NCBs and by the global desk; written by nobody through TAXII (triage
  copies accepted objects into it);
- a partner's inbox: read and written by that partner; read by the global desk;
- a member agency's share: written by its owner agency's units and NCB (the global desk for
  its own shares); read by the owner agency, by every country of its ``audience`` (NULL: the
  whole network) and by the global desk. Partners read no share.

Objects, in a collection the reader reads: TLP:CLEAR, GREEN and AMBER ones reach every
reader; AMBER+STRICT and RED ones only the agency that submitted them (the collection's
owner: only it writes there) and the global desk. AMBER+STRICT restricts to the recipient's
organisation and RED to named recipients: relay247 cannot tell which member organisations a
partner meant, so it shows them to none but the global desk, which triages them.

A collection or object an actor may not read is answered 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, any_, false, literal, or_, true

from app.identity import policy
from app.identity.auth import Actor
from app.identity.policy import Action, Owner
from app.models import DataCollection, StixObject, table_of
from app.models.enums import CollectionKind, HandlingCode, Role

collections = table_of(DataCollection)
objects = table_of(StixObject)

# What every reader of a collection reads; stricter codes go to the submitter and the GS.
OPEN_CODES = (HandlingCode.CLEAR, HandlingCode.GREEN, HandlingCode.AMBER)
# The roles of member countries' agencies that read shared data.
MEMBER_ROLES = frozenset({Role.UNIT, Role.CONTACT_POINT, Role.NCB})


def sees_everything(actor: Actor) -> bool:
    """The global desk: it triages, so it reads every collection at every code."""
    return policy.permits(actor, Action.TRIAGE_DATA)


def _member_reader(actor: Actor) -> bool:
    return actor.role is not Role.PARTNER and policy.permits(actor, Action.READ_SHARED_DATA)


def can_read(actor: Actor, collection: DataCollection) -> bool:
    if actor.role is Role.PARTNER:
        return (
            collection.kind is CollectionKind.INBOX
            and collection.owner_agency_id == actor.agency_id
        )
    if not _member_reader(actor):
        return False
    if sees_everything(actor):
        return True
    match collection.kind:
        case CollectionKind.GATEWAY:
            return True
        case CollectionKind.SHARE:
            return (
                collection.owner_agency_id == actor.agency_id
                or collection.audience is None
                or actor.country in collection.audience
            )
        case _:
            return False


def can_write(actor: Actor, collection: DataCollection) -> bool:
    match collection.kind:
        case CollectionKind.INBOX:
            return actor.role is Role.PARTNER and collection.owner_agency_id == actor.agency_id
        case CollectionKind.SHARE:
            return actor.role is not Role.PARTNER and policy.permits(
                actor, Action.SUBMIT_DATA, Owner(agency_id=collection.owner_agency_id)
            )
        case _:
            return False


def _member_collections(
    agency_id: ColumnElement[uuid.UUID] | uuid.UUID, country: ColumnElement[str] | str
) -> ColumnElement[bool]:
    c = collections.c
    return or_(
        c.kind == CollectionKind.GATEWAY,
        and_(
            c.kind == CollectionKind.SHARE,
            or_(
                c.owner_agency_id == agency_id,
                c.audience.is_(None),
                # A value or a column (a request's sender): either way compared with ANY.
                literal(country) == any_(c.audience)
                if isinstance(country, str)
                else country == any_(c.audience),
            ),
        ),
    )


def readable_collections(actor: Actor) -> ColumnElement[bool]:
    """:func:`can_read` as a SQL condition on data_collections."""
    c = collections.c
    if actor.role is Role.PARTNER:
        return and_(c.kind == CollectionKind.INBOX, c.owner_agency_id == actor.agency_id)
    if not _member_reader(actor):
        return false()
    if sees_everything(actor):
        return true()
    return _member_collections(actor.agency_id, actor.country)


def codes_seen_in(
    actor: Actor, collection: DataCollection, handling_code: Any
) -> ColumnElement[bool]:
    """Of a collection ``actor`` reads, the objects it sees by their ``handling_code`` (the
    column of stix_objects, or of an alias of it)."""
    if sees_everything(actor) or collection.owner_agency_id == actor.agency_id:
        return true()
    return handling_code.in_(OPEN_CODES)  # type: ignore[no-any-return]


def readable_objects(actor: Actor) -> ColumnElement[bool]:
    """The stored objects (stix_objects joined with data_collections) ``actor`` reads,
    purged ones included (their metadata stays; their content is gone)."""
    own = collections.c.owner_agency_id == actor.agency_id
    return and_(
        readable_collections(actor),
        true() if sees_everything(actor) else or_(objects.c.handling_code.in_(OPEN_CODES), own),
    )


def member_reads(
    agency_id: ColumnElement[uuid.UUID] | uuid.UUID,
    country: ColumnElement[str] | str,
) -> ColumnElement[bool]:
    """Whether a member of ``agency_id`` in ``country`` reads the live object (stix_objects
    joined with data_collections): values, or columns of a row (a request's sender), for
    matching."""
    handling = or_(
        objects.c.handling_code.in_(OPEN_CODES), collections.c.owner_agency_id == agency_id
    )
    return and_(objects.c.purged_at.is_(None), _member_collections(agency_id, country), handling)


def matches_readable_by(actor: Actor) -> ColumnElement[bool]:
    """The store's live objects (never the quarantine) ``actor`` may be shown as a match: the
    global desk every one, members by :func:`member_reads`, nobody else."""
    if sees_everything(actor):
        return and_(objects.c.purged_at.is_(None), collections.c.kind != CollectionKind.INBOX)
    if actor.role in MEMBER_ROLES:
        return member_reads(actor.agency_id, actor.country)
    return false()
