"""Typed factories: build the directory a test needs through the real services."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update

from app.core.database import Database
from app.directory import agencies, principals
from app.directory import countries as network
from app.identity import tokens
from app.models import (
    AccessAgreement,
    DataCollection,
    PartnerAgreement,
    RosterOverride,
    RosterRotation,
)
from app.models.enums import (
    AgencyKind,
    Cadence,
    CollectionKind,
    HandlingCode,
    Layer,
    OverrideKind,
    Role,
    UnmarkedObjects,
)

COUNTRY_NAMES = {"FR": "France", "DE": "Germany", "JP": "Japan", "BR": "Brazil"}
# The STIX types the world's partners may submit (their agreements).
PARTNER_OBJECT_TYPES = [
    "indicator",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "email-addr",
    "file",
    "malware",
    "identity",
    "relationship",
    "marking-definition",
]
# Long before any test runs: the agreements make_world grants are in force from the start.
SINCE_EVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Party:
    """A principal with its token, as a test uses it."""

    principal_id: uuid.UUID
    agency_id: uuid.UUID
    country: str
    role: Role
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    parties: dict[tuple[str, Role], Party] = field(default_factory=dict)

    def __call__(self, country: str, role: Role) -> Party:
        return self.parties[(country, role)]

    def unit(self, country: str) -> Party:
        return self(country, Role.UNIT)

    def desk(self, country: str) -> Party:
        return self(country, Role.CONTACT_POINT)

    def partner(self, country: str) -> Party:
        """The private partner based in ``country`` (FR and DE have one each)."""
        return self(country, Role.PARTNER)

    @property
    def gs(self) -> Party:
        return self("INT", Role.GS)

    @property
    def auditor(self) -> Party:
        return self("INT", Role.AUDITOR)

    @property
    def admin(self) -> Party:
        return self("INT", Role.ADMIN)


async def make_party(
    database: Database, *, agency_id: uuid.UUID, country: str, role: Role, name: str
) -> Party:
    async with database.transaction() as session:
        principal = await principals.create_principal(
            session, agency_id=agency_id, role=role, name=name
        )
        token = await tokens.issue_token(session, principal_id=principal.id)
    return Party(principal.id, agency_id, country, role, token)


async def make_world(
    database: Database, countries: Iterable[str] = ("FR", "DE", "JP"), *, with_gs: bool = True
) -> World:
    """Per country a unit (with a case system and a contact point, and an access agreement of
    every scope) and an NCB; a private partner in FR and in DE, each with a partner agreement
    (up to TLP:AMBER; FR's refuses unmarked objects, DE's marks them GREEN) and its inbox;
    plus, unless ``with_gs`` is False, the General Secretariat with
    the global desk, an auditor and an admin (keyed 'INT')."""
    world = World()
    agency_ids: dict[tuple[str, AgencyKind], Any] = {}
    async with database.transaction() as session:
        for code in countries:
            await network.ensure_country(session, code, COUNTRY_NAMES.get(code, code))
            for kind in (AgencyKind.UNIT, AgencyKind.NCB):
                agency = await agencies.create_agency(
                    session, country=code, kind=kind, name=f"{code} {kind.value}"
                )
                agency_ids[(code, kind)] = agency.id
            session.add(
                AccessAgreement(
                    agency_id=agency_ids[(code, AgencyKind.UNIT)],
                    country_code=code,
                    valid_from=SINCE_EVER,
                )
            )
        if with_gs:
            gs = await agencies.create_agency(
                session, country="FR", kind=AgencyKind.GS, name="General Secretariat"
            )
    partner_countries = [code for code in ("FR", "DE") if code in countries]
    async with database.transaction() as session:
        for code in partner_countries:
            agency = await agencies.create_agency(
                session, country=code, kind=AgencyKind.PARTNER, name=f"{code} partner"
            )
            agency_ids[(code, AgencyKind.PARTNER)] = agency.id
            refuses = code == "FR"
            session.add(
                PartnerAgreement(
                    partner_agency_id=agency.id,
                    object_types=PARTNER_OBJECT_TYPES,
                    daily_object_limit=1_000_000,
                    handling_ceiling=HandlingCode.AMBER,
                    unmarked=UnmarkedObjects.REFUSE if refuses else UnmarkedObjects.DEFAULT,
                    default_handling=None if refuses else HandlingCode.GREEN,
                    retention_days=365,
                    valid_from=SINCE_EVER,
                )
            )
            session.add(
                DataCollection(
                    kind=CollectionKind.INBOX,
                    title=f"{code} partner inbox",
                    owner_agency_id=agency.id,
                )
            )
    for code in partner_countries:
        world.parties[(code, Role.PARTNER)] = await make_party(
            database,
            agency_id=agency_ids[(code, AgencyKind.PARTNER)],
            country=code,
            role=Role.PARTNER,
            name=f"{code} partner",
        )
    for code in countries:
        for role, kind in (
            (Role.UNIT, AgencyKind.UNIT),
            (Role.CONTACT_POINT, AgencyKind.UNIT),
            (Role.NCB, AgencyKind.NCB),
        ):
            world.parties[(code, role)] = await make_party(
                database,
                agency_id=agency_ids[(code, kind)],
                country=code,
                role=role,
                name=f"{code} {role.value}",
            )
    for role in (Role.GS, Role.AUDITOR, Role.ADMIN) if with_gs else ():
        party = await make_party(
            database, agency_id=gs.id, country="FR", role=role, name=f"GS {role.value}"
        )
        world.parties[("INT", role)] = party
    return world


async def make_agreement(database: Database, unit: Party, **terms: Any) -> uuid.UUID:
    """Grant ``unit``'s agency an agreement: scope columns (request_types, target_countries,
    priorities: None means all) and valid_from / valid_until / ended_at as given."""
    agreement = AccessAgreement(
        agency_id=unit.agency_id, country_code=unit.country, **{"valid_from": SINCE_EVER, **terms}
    )
    async with database.transaction() as session:
        session.add(agreement)
    return agreement.id


async def end_agreements(database: Database, unit: Party, *, at: datetime | None = None) -> None:
    """End every agreement of ``unit``'s agency (now, or at ``at``)."""
    async with database.transaction() as session:
        await session.execute(
            update(AccessAgreement)
            .where(AccessAgreement.agency_id == unit.agency_id)
            .values(ended_at=at or func.now())
        )


async def make_rotation(
    database: Database,
    country: str,
    participants: Sequence[uuid.UUID],
    *,
    layer: Layer = Layer.PRIMARY,
    starts_local: datetime = datetime(2026, 1, 1, 8, 0),
    cadence: Cadence = Cadence.DAILY,
    hours: int | None = None,
    ends_at: datetime | None = None,
) -> uuid.UUID:
    """A rotation written straight to the table (the REST route is tested on its own)."""
    rotation = RosterRotation(
        country_code=country,
        layer=layer,
        name=f"{layer.value} rotation",
        participants=list(participants),
        starts_local=starts_local,
        cadence=cadence,
        hours=hours,
        ends_at=ends_at,
    )
    async with database.transaction() as session:
        session.add(rotation)
    return rotation.id


async def make_override(
    database: Database,
    country: str,
    kind: OverrideKind,
    principal_id: uuid.UUID,
    *,
    starts_at: datetime,
    ends_at: datetime,
    layer: Layer | None = None,
    other_principal_id: uuid.UUID | None = None,
) -> uuid.UUID:
    override = RosterOverride(
        country_code=country,
        kind=kind,
        layer=layer,
        principal_id=principal_id,
        other_principal_id=other_principal_id,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    async with database.transaction() as session:
        session.add(override)
    return override.id


async def make_contact_point(database: Database, world: World, country: str, name: str) -> Party:
    """Another contact point of ``country``'s desk, in the same unit as world.desk(country)."""
    desk = world.desk(country)
    return await make_party(
        database, agency_id=desk.agency_id, country=country, role=Role.CONTACT_POINT, name=name
    )


def request_body(target: str = "DE", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "preservation",
        "priority": "urgent",
        "target_country": target,
        "subject": "Preserve the mailbox of a ransomware negotiator",
        "details": "Account used in negotiations on 2026-11-20; preserve for 90 days.",
        "identifiers": [
            {"kind": "email", "value": "negotiator@example.org"},
            {"kind": "ip", "value": "203.0.113.7"},
        ],
        "legal_basis": "Budapest Convention Art. 29",
        "handling_code": "AMBER",
        "onward_use": ["H2"],
    }
    body.update(overrides)
    return body


async def make_national_auditor(database: Database, world: World, country: str) -> Party:
    """An auditor of one country, in its NCB's agency."""
    ncb = world.parties[(country, Role.NCB)]
    party = await make_party(
        database,
        agency_id=ncb.agency_id,
        country=country,
        role=Role.NATIONAL_AUDITOR,
        name=f"{country} auditor",
    )
    world.parties[(country, Role.NATIONAL_AUDITOR)] = party
    return party
