"""Countries, agencies, principals and their tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInputError, NotFoundError
from app.models import Agency, ApiToken, Country, Principal
from app.models.enums import AgencyKind, Role
from app.services import audit
from app.services.auth import new_token

# Which kinds of agency each role may belong to: a role acts for its agency, so a unit's case
# system sits in a national unit, an auditor in the General Secretariat, and so on.
ROLE_AGENCY_KINDS: dict[Role, frozenset[AgencyKind]] = {
    Role.UNIT: frozenset({AgencyKind.UNIT}),
    Role.CONTACT_POINT: frozenset({AgencyKind.UNIT, AgencyKind.NCB}),
    Role.NCB: frozenset({AgencyKind.NCB}),
    Role.GS: frozenset({AgencyKind.GS}),
    Role.AUDITOR: frozenset({AgencyKind.GS}),
    Role.ADMIN: frozenset(AgencyKind),
}


async def ensure_country(session: AsyncSession, code: str, name: str) -> None:
    await session.execute(insert(Country).values(code=code, name=name).on_conflict_do_nothing())


async def create_agency(
    session: AsyncSession, *, country: str, kind: AgencyKind, name: str
) -> Agency:
    if await session.get(Country, country) is None:
        raise InvalidInputError(f"country {country!r} is not a country of the network")
    agency = Agency(country_code=country, kind=kind, name=name)
    session.add(agency)
    await session.flush()
    return agency


async def create_principal(
    session: AsyncSession, *, agency_id: uuid.UUID, role: Role, name: str
) -> Principal:
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise NotFoundError(f"no agency {agency_id}")
    if agency.kind not in ROLE_AGENCY_KINDS[role]:
        allowed = ", ".join(sorted(kind.value for kind in ROLE_AGENCY_KINDS[role]))
        raise InvalidInputError(
            f"role {role.value} belongs to an agency of kind {allowed}, "
            f"not {agency.kind.value} ({agency.name})"
        )
    principal = Principal(agency_id=agency_id, role=role, name=name)
    session.add(principal)
    await session.flush()
    return principal


async def issue_token(
    session: AsyncSession,
    *,
    principal_id: uuid.UUID,
    label: str = "",
    expires_at: datetime | None = None,
) -> str:
    """Create a token for the principal and return it: the only time it is ever seen."""
    token = new_token()
    session.add(
        ApiToken(
            principal_id=principal_id,
            prefix=token.prefix,
            secret_hash=token.secret_hash,
            label=label,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return token.token


async def revoke_token(session: AsyncSession, *, prefix: str) -> None:
    """Revoke the token with this prefix. It stops working at once on REST, and every open
    socket it authenticated is closed within seconds, on every instance."""
    revoked = await session.scalar(
        update(ApiToken)
        .where(ApiToken.prefix == prefix, ApiToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiToken.id)
    )
    if revoked is None:
        if await session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is None:
            raise NotFoundError(f"no token with prefix {prefix}")
        return  # revoked before: nothing changes
    await audit.record(
        session, None, "token.revoked", object_type="api_token", object_id=str(revoked)
    )


async def find_agency(session: AsyncSession, *, country: str, name: str) -> Agency | None:
    agency: Agency | None = await session.scalar(
        select(Agency).where(Agency.country_code == country, Agency.name == name)
    )
    return agency
