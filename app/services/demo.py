"""The demo world: six countries with a national unit, an NCB and two contact points each,
the global desk and an auditor. Seeding is idempotent: a second run changes nothing and
returns no tokens (they were shown once, the first time)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.enums import AgencyKind, Role
from app.services.directory import agencies, principals, tokens
from app.services.directory import countries as network

DEMO_COUNTRIES = {
    "FR": "France",
    "DE": "Germany",
    "BR": "Brazil",
    "JP": "Japan",
    "NG": "Nigeria",
    "US": "United States",
}
GS_COUNTRY = "FR"  # the General Secretariat sits in Lyon
GS_NAME = "INTERPOL General Secretariat"


def _unit_name(name: str) -> str:
    return f"{name} National Cybercrime Unit"


async def _principal_with_token(
    session: AsyncSession, agency_id: Any, role: Role, name: str
) -> dict[str, str]:
    principal = await principals.create_principal(
        session, agency_id=agency_id, role=role, name=name
    )
    token = await tokens.issue_token(session, principal_id=principal.id, label="demo")
    return {"principal_id": str(principal.id), "name": name, "token": token}


async def seed_demo(session: AsyncSession) -> dict[str, Any] | None:
    """Create the demo world and return its credentials, or None if it already exists."""
    if await agencies.find_agency(session, country=GS_COUNTRY, name=GS_NAME) is not None:
        return None
    for code, name in DEMO_COUNTRIES.items():
        await network.ensure_country(session, code, name)

    countries: dict[str, Any] = {}
    for code, name in DEMO_COUNTRIES.items():
        unit = await agencies.create_agency(
            session, country=code, kind=AgencyKind.UNIT, name=_unit_name(name)
        )
        ncb = await agencies.create_agency(
            session, country=code, kind=AgencyKind.NCB, name=f"NCB {name}"
        )
        countries[code] = {
            "name": name,
            "unit": {
                "agency_id": str(unit.id),
                **await _principal_with_token(session, unit.id, Role.UNIT, f"{name} case system"),
            },
            "ncb": {
                "agency_id": str(ncb.id),
                **await _principal_with_token(session, ncb.id, Role.NCB, f"NCB {name} duty"),
            },
            "contact_points": [
                {
                    "agency_id": str(unit.id),
                    **await _principal_with_token(
                        session, unit.id, Role.CONTACT_POINT, f"{name} 24/7 officer {n}"
                    ),
                }
                for n in (1, 2)
            ],
        }
    gs = await agencies.create_agency(session, country=GS_COUNTRY, kind=AgencyKind.GS, name=GS_NAME)
    return {
        "countries": countries,
        "global_desk": {
            "agency_id": str(gs.id),
            **await _principal_with_token(session, gs.id, Role.GS, "Global desk"),
        },
        "auditor": {
            "agency_id": str(gs.id),
            **await _principal_with_token(session, gs.id, Role.AUDITOR, "Auditor"),
        },
    }
