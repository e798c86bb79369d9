"""The demo world: six countries with a national unit, an NCB and two contact points each,
the global desk and an auditor, and a private partner (Project Gateway) with its agreement and
TAXII inbox. Each unit may send any request (an all-scope agreement) and
each desk has a roster: the two contact points take turns as primary, daily at 08:00 local
time, the other one being the backup, so a request goes to a person. Seeding is idempotent:
a second run changes nothing and returns no tokens (they were shown once, the first time)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.directory import agencies, principals
from app.directory import countries as network
from app.identity import tokens
from app.models import (
    AccessAgreement,
    Country,
    DataCollection,
    PartnerAgreement,
    RosterRotation,
)
from app.models.enums import (
    AgencyKind,
    Cadence,
    CollectionKind,
    HandlingCode,
    Layer,
    Role,
    UnmarkedObjects,
)

DEMO_COUNTRIES = {
    "FR": "France",
    "DE": "Germany",
    "BR": "Brazil",
    "JP": "Japan",
    "NG": "Nigeria",
    "US": "United States",
}
# The zone each desk's roster is written in, and the languages it works in.
DEMO_PROFILES = {
    "FR": ("Europe/Paris", ["fr", "en"]),
    "DE": ("Europe/Berlin", ["de", "en"]),
    "BR": ("America/Sao_Paulo", ["pt", "en"]),
    "JP": ("Asia/Tokyo", ["ja", "en"]),
    "NG": ("Africa/Lagos", ["en"]),
    "US": ("America/New_York", ["en"]),
}
ROSTER_START = datetime(2025, 1, 1, 8, 0)  # local wall-clock time: hand-offs at 08:00
SINCE = datetime(2025, 1, 1, tzinfo=UTC)
GS_COUNTRY = "FR"  # the General Secretariat sits in Lyon
GS_NAME = "INTERPOL General Secretariat"
PARTNER_COUNTRY = "US"
PARTNER_NAME = "Example Threat Intelligence Ltd"
# What the demo partner may send: indicators, the observables they are about, and what a MISP
# event becomes (misp-stix: a report or grouping, observed data, MISP's own attribute types).
PARTNER_TYPES = [
    "indicator",
    "observed-data",
    "grouping",
    "network-traffic",
    "x-misp-attribute",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "email-addr",
    "file",
    "malware",
    "identity",
    "relationship",
    "report",
    "marking-definition",
]


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
        time_zone, languages = DEMO_PROFILES[code]
        await session.execute(
            update(Country)
            .where(Country.code == code)
            .values(time_zone=time_zone, languages=languages)
        )

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
            # Sees the audit entries concerning its own country only.
            "national_auditor": {
                "agency_id": str(ncb.id),
                **await _principal_with_token(
                    session, ncb.id, Role.NATIONAL_AUDITOR, f"{name} data protection auditor"
                ),
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
        _grant_and_staff(session, code, countries[code])
    gs = await agencies.create_agency(session, country=GS_COUNTRY, kind=AgencyKind.GS, name=GS_NAME)
    partner = await agencies.create_agency(
        session, country=PARTNER_COUNTRY, kind=AgencyKind.PARTNER, name=PARTNER_NAME
    )
    _agree_with_partner(session, partner.id)
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
        "partner": {
            "agency_id": str(partner.id),
            **await _principal_with_token(
                session, partner.id, Role.PARTNER, f"{PARTNER_NAME} feed"
            ),
        },
    }


def _agree_with_partner(session: AsyncSession, partner_id: uuid.UUID) -> None:
    """The partner's terms (what it may send, up to TLP:AMBER, unmarked objects taken as
    GREEN, kept a year) and the inbox its bundles wait in until the global desk triages them."""
    session.add(
        PartnerAgreement(
            partner_agency_id=partner_id,
            object_types=PARTNER_TYPES,
            daily_object_limit=100_000,
            handling_ceiling=HandlingCode.AMBER,
            unmarked=UnmarkedObjects.DEFAULT,
            default_handling=HandlingCode.GREEN,
            retention_days=365,
            valid_from=SINCE,
        )
    )
    session.add(
        DataCollection(
            kind=CollectionKind.INBOX,
            title=f"{PARTNER_NAME}: submissions",
            owner_agency_id=partner_id,
        )
    )


def _grant_and_staff(session: AsyncSession, code: str, country: dict[str, Any]) -> None:
    """The unit's all-scope agreement, and the desk's primary and backup rotations."""
    session.add(
        AccessAgreement(
            agency_id=uuid.UUID(country["unit"]["agency_id"]),
            country_code=code,
            valid_from=SINCE,
            conditions="Demo: every type, target and priority.",
        )
    )
    officers = [uuid.UUID(cp["principal_id"]) for cp in country["contact_points"]]
    for layer, order in ((Layer.PRIMARY, officers), (Layer.BACKUP, officers[::-1])):
        session.add(
            RosterRotation(
                country_code=code,
                layer=layer,
                name=f"{country['name']} {layer.value}, daily at 08:00",
                participants=order,
                starts_local=ROSTER_START,
                cadence=Cadence.DAILY,
            )
        )
