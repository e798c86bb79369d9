"""The first administrator of an empty network, made from the command line: the API needs a
token to do anything, so the first one cannot come from the API."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ConflictError, InvalidInputError
from app.directory import agencies, countries, principals
from app.identity import tokens
from app.models import Principal
from app.models.enums import AgencyKind, Role


async def bootstrap(
    session: AsyncSession, *, country: str, country_name: str, agency_name: str, name: str
) -> str:
    """Add the country and the General Secretariat if absent, an admin in it, and return the
    admin's token. Refused once an enabled admin exists, so that running it again by mistake
    does not hand out a second all-powerful token."""
    if await session.scalar(
        select(Principal.id)
        .where(Principal.role == Role.ADMIN, Principal.disabled_at.is_(None))
        .limit(1)
    ):
        raise ConflictError(
            "the network already has an admin: make more with the API or "
            "`relay247 tokens create --role admin`"
        )
    await countries.ensure_country(session, country, country_name)
    secretariat = await agencies.find_agency(session, country=country, name=agency_name)
    if secretariat is None:
        secretariat = await agencies.create_agency(
            session, country=country, kind=AgencyKind.GS, name=agency_name
        )
    elif secretariat.kind is not AgencyKind.GS:
        raise InvalidInputError(
            f"{agency_name!r} in {country} is an agency of kind {secretariat.kind.value}, "
            "not the General Secretariat: name another agency"
        )
    admin = await principals.create_principal(
        session, agency_id=secretariat.id, role=Role.ADMIN, name=name
    )
    return await tokens.issue_token(session, principal_id=admin.id, label="bootstrap")
