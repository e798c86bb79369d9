"""Which TAXII collections an actor reads and writes: the one rule, in Python for one
collection and in SQL for a list, so a list never shows what a GET would refuse.

- The gateway collection (partners' data the global desk accepted): read by every member
  role that reads shared data (units, contact points, NCBs) and by the global desk; written
  by nobody through TAXII (the triage copies accepted objects into it).
- A partner's inbox: read and written by that partner; read by the global desk.
- A member agency's share: written by its owner agency's units and NCB (and the global desk
  for its own shares); read by the owner agency, by every country of its ``audience`` (NULL:
  the whole network) and by the global desk. Partners read no share.

A collection an actor may not read is answered 404, as if it did not exist (the TAXII routes
and the REST ones alike): a partner learns nothing of the others' inboxes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ForbiddenError, InvalidInputError, NotFoundError
from app.identity import policy
from app.identity.auth import Actor
from app.identity.policy import Action, Owner
from app.models import Country, DataCollection
from app.models.enums import CollectionKind, Role

OBJECT_TYPE = "data_collection"


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
    if actor.role is Role.GS:
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


def readable(actor: Actor) -> ColumnElement[bool]:
    """:func:`can_read` as a SQL condition on data_collections."""
    if actor.role is Role.PARTNER:
        return and_(
            DataCollection.kind == CollectionKind.INBOX,
            DataCollection.owner_agency_id == actor.agency_id,
        )
    if not _member_reader(actor):
        return false()
    if actor.role is Role.GS:
        return true()
    return or_(
        DataCollection.kind == CollectionKind.GATEWAY,
        and_(
            DataCollection.kind == CollectionKind.SHARE,
            or_(
                DataCollection.owner_agency_id == actor.agency_id,
                DataCollection.audience.is_(None),
                DataCollection.audience.contains([actor.country]),
            ),
        ),
    )


async def list_readable(session: AsyncSession, actor: Actor) -> Sequence[DataCollection]:
    rows = await session.scalars(
        select(DataCollection)
        .where(readable(actor))
        .order_by(DataCollection.created_at, DataCollection.id)
    )
    return rows.all()


async def get_readable(
    session: AsyncSession, actor: Actor, collection_id: uuid.UUID
) -> DataCollection:
    """The collection, or NotFoundError when it does not exist or the actor may not read it
    (a writer that may not read, there is none: every writer reads)."""
    collection = await session.get(DataCollection, collection_id)
    if collection is None or not can_read(actor, collection):
        raise NotFoundError(f"no collection {collection_id}")
    return collection


async def get_writable(
    session: AsyncSession, actor: Actor, collection_id: uuid.UUID
) -> DataCollection:
    """The collection the actor may write to; 404 when it may not read it, 403 when it reads
    but may not write it (the global desk and a partner's inbox, a reader of a share)."""
    collection = await get_readable(session, actor, collection_id)
    if not can_write(actor, collection):
        raise ForbiddenError(f"a principal with role {actor.role.value} may not write here")
    return collection


async def create_share(
    session: AsyncSession,
    actor: Actor,
    *,
    title: str,
    description: str | None,
    audience: Sequence[str] | None,
) -> DataCollection:
    """A share collection of the actor's own agency, read by ``audience`` (None: the whole
    network)."""
    policy.require(actor, Action.MANAGE_SHARES, Owner(agency_id=actor.agency_id))
    countries = sorted(set(audience)) if audience is not None else None
    if countries:
        known = set(await session.scalars(select(Country.code).where(Country.code.in_(countries))))
        unknown = [code for code in countries if code not in known]
        if unknown:
            raise InvalidInputError(
                f"not countries of the network: {', '.join(unknown)}", field="audience"
            )
    collection = DataCollection(
        id=uuid.uuid4(),
        kind=CollectionKind.SHARE,
        title=title,
        description=description,
        owner_agency_id=actor.agency_id,
        audience=countries,
        created_by=actor.principal_id,
    )
    session.add(collection)
    await session.flush()
    await audit.record(
        session,
        actor,
        "collection.created",
        object_type=OBJECT_TYPE,
        object_id=str(collection.id),
        countries=countries or [],
        details={"kind": CollectionKind.SHARE.value, "audience": countries},
    )
    return collection
