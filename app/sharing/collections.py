"""Getting the collections an actor reads or writes (404 for one it may not read, 403 for
one it reads but may not write), and member agencies' new shares. The rule itself is
app/sharing/visibility.py's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import ForbiddenError, InvalidInputError, NotFoundError
from app.directory.agreement_scope import share_refusal
from app.directory.agreements import terms_of_agency
from app.identity import policy
from app.identity.auth import Actor
from app.identity.policy import Action, Owner
from app.models import Country, DataCollection
from app.models.enums import CollectionKind, Role
from app.sharing.visibility import can_read, can_write, readable_collections

OBJECT_TYPE = "data_collection"


async def list_readable(session: AsyncSession, actor: Actor) -> Sequence[DataCollection]:
    rows = await session.scalars(
        select(DataCollection)
        .where(readable_collections(actor))
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


async def require_share_agreement(
    session: AsyncSession, actor: Actor, audience: Sequence[str] | None
) -> None:
    """A unit shares within its access agreements (``share_refusal``: the countries it may
    send requests to); an NCB, which grants them, and the global desk are not bound."""
    if actor.role is not Role.UNIT:
        return
    now = await session.scalar(select(func.now()))
    assert now is not None
    refused = share_refusal(
        await terms_of_agency(session, actor.agency_id), audience=audience, now=now
    )
    if refused is not None:
        raise ForbiddenError(
            f"refused by access agreements ({refused.reason}): {refused.detail}",
            reason=str(refused.reason),
        )


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
    await require_share_agreement(session, actor, countries)
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
