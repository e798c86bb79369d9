"""Refused attempts on objects, in the audit trail: who tried to see or change which object
and was refused (403), or was told it does not exist (404: what a caller who may not know
of an object hears, so an auditor must see those too).

An entry is written after the refused call's transaction has rolled back, in one of its
own. It is rate-limited per principal (RELAY247_REFUSAL_AUDIT_LIMIT, counted in this
process's memory like the request rate limit): a client probing ids in a loop adds a bounded
number of entries, the refusals past the limit are counted, and the next entry written for
that principal says how many were left out (``left_out``).

An entry is seen by the auditors of every country it names, and a 404 hides from the caller
which countries an object concerns (and that it exists). So a refusal on an object that does
not concern the caller's own country, or on an id that names nothing, is written as two
entries: the caller's country's, naming it alone and reading exactly as a probe of an id that
names nothing does; and the object's countries', naming them alone (none for an id that names
nothing: network-wide auditors only), with ``object_side``. Written as a pair whether the id
names something or not, so that not even the entries' ids and chain positions tell the
caller's country which it was. The object's side also carries a random ``salt``: an export
filtered to the caller's country stands in for it with its digest, and its caller's country's
auditor knows every other member of it (the same caller, time and id, the next position), so
without the salt trying each pair of countries would find the digest.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit, webhooks
from app.core.database import Database
from app.directory import agencies, agreements, countries, principals
from app.exchange.files import service as files
from app.identity.auth import Actor
from app.models import (
    AccessAgreement,
    Agency,
    CooperationRequest,
    Country,
    EvidenceFile,
    Principal,
    WebhookEndpoint,
)
from app.requests import access

ACTION = "access.refused"
# In the details of the entry that names the refused object's countries (see above).
OBJECT_SIDE = "object_side"
SALT = "salt"

# The collections whose members a refusal is recorded against: a route's first path
# parameter names one (/v1/requests/{request_id}/messages is about that request). Tokens are
# named by their public prefix, not their id, and are left out.
_OBJECT_TYPES = {
    "requests": access.OBJECT_TYPE,
    "files": files.OBJECT_TYPE,
    "countries": countries.OBJECT_TYPE,
    "agencies": agencies.OBJECT_TYPE,
    "principals": principals.OBJECT_TYPE,
    "agreements": agreements.OBJECT_TYPE,
    "webhook-endpoints": webhooks.OBJECT_TYPE,
}


def object_of(route: str, path_params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(object type, id) that a route template's first path parameter names, if it names one
    of the collections above: ``("/v1/requests/{request_id}", {...})`` -> ("request", id)."""
    segments = route.strip("/").split("/")
    for collection, segment in itertools.pairwise(segments):
        if segment.startswith("{") and segment.endswith("}"):
            object_type = _OBJECT_TYPES.get(collection)
            value = path_params.get(segment[1:-1])
            if object_type is None or value is None:
                return None
            return object_type, _canonical(str(value))
    return None


def _canonical(object_id: str) -> str:
    """An id as the audit trail writes it elsewhere: a UUID in its one lower-case hyphenated
    form, whatever form the path had (upper case or without hyphens route too), so that a
    prober's entries are found by the object's id."""
    try:
        return str(uuid.UUID(object_id))
    except ValueError:
        return object_id


def _countries_query(
    object_type: str, object_id: str
) -> Select[str] | Select[str | None] | Select[str, str] | None:
    """The countries the refused object concerns, as its own audit entries name them."""
    if object_type == countries.OBJECT_TYPE:
        return select(Country.code).where(Country.code == object_id)
    try:
        uid = uuid.UUID(object_id)
    except ValueError:
        return None  # no such object: no one but the prober's country is concerned
    request_countries = (CooperationRequest.target_country, CooperationRequest.requesting_country)
    match object_type:
        case access.OBJECT_TYPE:
            return select(*request_countries).where(CooperationRequest.id == uid)
        case files.OBJECT_TYPE:
            return (
                select(*request_countries)
                .join(EvidenceFile, EvidenceFile.request_id == CooperationRequest.id)
                .where(EvidenceFile.id == uid)
            )
        case agencies.OBJECT_TYPE:
            return select(Agency.owner_country).where(Agency.id == uid)
        case principals.OBJECT_TYPE:
            return (
                select(Agency.owner_country)
                .join(Principal, Principal.agency_id == Agency.id)
                .where(Principal.id == uid)
            )
        case agreements.OBJECT_TYPE:
            return select(AccessAgreement.country_code).where(AccessAgreement.id == uid)
        case webhooks.OBJECT_TYPE:
            return (
                select(Agency.owner_country)
                .join(WebhookEndpoint, WebhookEndpoint.agency_id == Agency.id)
                .where(WebhookEndpoint.id == uid)
            )
    return None


async def _object_countries(session: AsyncSession, object_type: str, object_id: str) -> list[str]:
    query = _countries_query(object_type, object_id)
    row = (await session.execute(query)).one_or_none() if query is not None else None
    return [country for country in row or () if country]


def entries(
    home: str | None, concerned: list[str], details: dict[str, Any]
) -> list[tuple[list[str], dict[str, Any], bool]]:
    """The entries of one refusal: (the object's countries it names, its details, whether it
    names the caller's country too). One entry when the caller's country's auditors audit the
    object anyway (or the caller acts for the network, in no country's name); else the pair
    the module's docstring describes."""
    if home is None or home in concerned:
        return [(concerned, details, True)]
    object_side = {**details, OBJECT_SIDE: True, SALT: secrets.token_hex(16)}
    return [([], details, True), (concerned, object_side, False)]


class RefusalTrail:
    def __init__(self, rule: str) -> None:
        self._limit: RateLimitItem = parse(rule)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._left_out: dict[uuid.UUID, int] = {}

    async def record(
        self,
        database: Database,
        actor: Actor,
        *,
        object_type: str,
        object_id: str,
        status: int,
        method: str,
        route: str,
    ) -> bool:
        """Write the entry, unless the principal is over the limit; whether it was written.
        Raises what the database raises: the caller still answers the refusal."""
        principal = actor.principal_id
        if not await self._limiter.hit(self._limit, str(principal)):
            self._left_out[principal] = self._left_out.get(principal, 0) + 1
            return False
        left_out = self._left_out.pop(principal, 0)
        details = {"status": status, "method": method, "route": route, "left_out": left_out}
        try:
            async with database.transaction() as session:
                concerned = await _object_countries(session, object_type, object_id)
                for countries, entry_details, with_actor_country in entries(
                    actor.home_country, concerned, details
                ):
                    await audit.record(
                        session,
                        actor,
                        ACTION,
                        object_type=object_type,
                        object_id=object_id,
                        countries=countries,
                        details=entry_details,
                        with_actor_country=with_actor_country,
                    )
        except BaseException:
            self._left_out[principal] = self._left_out.get(principal, 0) + left_out + 1
            raise
        return True
