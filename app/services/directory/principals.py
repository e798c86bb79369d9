"""Principals: the people, desks and systems that act, each for one agency."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidInputError, NotFoundError
from app.models import Agency, Principal
from app.models.enums import AgencyKind, Role

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
