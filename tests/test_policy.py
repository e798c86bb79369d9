"""The authorization model itself: its printed form is current, and each role's reach is what
the network's rules say."""

from __future__ import annotations

import uuid
from pathlib import Path

from app.identity import policy
from app.identity.auth import Actor
from app.identity.policy import Action, Owner
from app.models.enums import AgencyKind, Role

DOCS = Path(__file__).parent.parent / "docs" / "authorization.md"


def test_the_documented_table_is_the_one_the_code_applies() -> None:
    assert DOCS.read_text() == policy.render_document(), (
        "docs/authorization.md is stale: run `relay247 policy > docs/authorization.md`"
    )


def test_every_action_has_a_rule() -> None:
    assert set(policy.RULES) == set(Action)


def _actor(role: Role, country: str = "DE") -> Actor:
    return Actor(
        principal_id=uuid.uuid4(),
        token_id=uuid.uuid4(),
        agency_id=uuid.uuid4(),
        country=country,
        role=role,
        name=role.value,
        agency_kind=AgencyKind.GS if role in (Role.GS, Role.AUDITOR) else AgencyKind.NCB,
    )


def test_nothing_of_the_general_secretariat_is_reachable_by_a_country_scope() -> None:
    ncb = _actor(Role.NCB, "FR")  # the General Secretariat sits in France
    general_secretariat = Owner(country=None, agency_id=uuid.uuid4())
    assert not policy.permits(ncb, Action.MANAGE_PRINCIPALS, general_secretariat)
    assert policy.permits(ncb, Action.MANAGE_PRINCIPALS, Owner(country="FR"))
    assert policy.permits(_actor(Role.GS), Action.MANAGE_PRINCIPALS, general_secretariat)


def test_self_reaches_only_the_caller() -> None:
    unit = _actor(Role.UNIT)
    assert policy.permits(unit, Action.MANAGE_TOKENS, Owner(principal_id=unit.principal_id))
    assert not policy.permits(unit, Action.MANAGE_TOKENS, Owner(principal_id=uuid.uuid4()))
    assert not policy.permits(unit, Action.MANAGE_TOKENS, Owner(country="DE"))


def test_only_an_admin_makes_admins() -> None:
    for manager in (Role.NCB, Role.GS):
        assert Role.ADMIN not in policy.GRANTABLE_ROLES[manager]
    assert policy.GRANTABLE_ROLES[Role.NCB] == {Role.UNIT, Role.CONTACT_POINT, Role.NCB}
