"""The owner columns each owned model declares are the one source of both halves of the
policy: for every owned model, every role and every action, ``permits`` on a row decides
what ``where`` decides for that row in Postgres, so a list never shows what a GET would
refuse, nor hides what it would answer. And a model that declares nothing cannot be asked
about at all."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Select, select, update
from sqlalchemy.orm import contains_eager

from app.core.database import Database
from app.core.settings import Settings
from app.identity import auth, policy
from app.identity.auth import Actor
from app.identity.policy import Action, Scope
from app.models import (
    AccessAgreement,
    Agency,
    AuditEntry,
    Base,
    CooperationRequest,
    Country,
    Message,
    Principal,
)
from app.models.enums import AgencyKind, Role
from app.requests import intake
from app.requests.schemas import RequestCreate
from tests.factories import World, make_contact_point, make_national_auditor, request_body

OWNED: tuple[type[Base], ...] = (CooperationRequest, AccessAgreement, Agency, Principal, AuditEntry)
# The facets a scope reads: each the sample rows must both reach and miss.
FACETS = {
    Scope.OWN_COUNTRY: ("country", "countries"),
    Scope.OWN_AGENCY: ("agency",),
    Scope.SELF: ("principal",),
    Scope.SENDING_COUNTRY: ("sending_country",),
    Scope.HOLDER: ("holder",),
}


def _rows(model: type[Base]) -> Select[tuple[Base]]:
    query: Select[tuple[Base]] = select(model)
    if model is Principal:
        # A principal's country is its agency's: joined in SQL, loaded with it in Python.
        query = query.join(Agency, Principal.agency_id == Agency.id).options(
            contains_eager(Principal.agency)
        )
    return query


async def _sample_rows(database: Database, world: World) -> None:
    """Requests between every pair of sides, one held by a desk's contact point and one by
    a colleague; audit entries of every shape of ``countries``, the GS's (none) and the old
    ones (NULL) included. The world adds agreements, agencies (the GS's) and principals."""
    await make_national_auditor(database, world, "DE")
    settings = Settings.from_environment()
    sent = []
    for sender, target in (("FR", "DE"), ("DE", "JP"), ("JP", "FR"), ("FR", "JP")):
        async with database.transaction() as session:
            actor = await auth.authenticate(session, world.unit(sender).token, None)
            submission = await intake.submit(
                session,
                actor,
                RequestCreate(**request_body(target)),
                idempotency_key=None,
                api=settings.api,
                exchange=settings.exchange,
            )
        sent.append(submission.request.id)
    colleague = await make_contact_point(database, world, "DE", "DE colleague")
    holders = {sent[0]: world.desk("DE").principal_id, sent[1]: colleague.principal_id}
    async with database.transaction() as session:
        for request_id, holder in holders.items():
            await session.execute(
                update(CooperationRequest)
                .where(CooperationRequest.id == request_id)
                .values(assigned_to=holder)
            )
        for countries in (None, [], ["DE"], ["DE", "FR"], ["JP"]):
            entry = AuditEntry(action="test", object_type="test", object_id="x")
            entry.countries = countries
            session.add(entry)


@pytest.mark.parametrize("model", OWNED, ids=lambda model: model.__name__)
async def test_permits_on_a_row_is_where_on_it_in_postgres(
    database: Database, world: World, model: type[Base]
) -> None:
    await _sample_rows(database, world)
    async with database.transaction() as session:
        actors: list[Actor] = [
            await auth.authenticate(session, party.token, None) for party in world.parties.values()
        ]
        assert {actor.role for actor in actors} == set(Role)
        rows = list((await session.scalars(_rows(model))).unique())
        assert rows, f"no sample {model.__name__}"
        actions = list(Action)
        outcomes: set[tuple[Scope, bool]] = set()
        for actor in actors:
            # Each action's condition as a column of the same rows: true where a WHERE keeps
            # the row (NULL, like false, drops it).
            conditions = [
                policy.where(actor, action, model).label(f"c{i}")
                for i, action in enumerate(actions)
            ]
            query = _rows(model).with_only_columns(model.__mapper__.primary_key[0], *conditions)
            in_sql = {row[0]: row[1:] for row in await session.execute(query)}
            for row in rows:
                key = model.__mapper__.primary_key_from_instance(row)[0]
                for action, kept in zip(actions, in_sql[key], strict=True):
                    assert policy.permits(actor, action, row) == (kept is True), (
                        f"{actor.role.value} of {actor.country}, {action.name}, "
                        f"{model.__name__} {key}: permits and where disagree"
                    )
                    granted = policy.scopes(actor, action)
                    if len(granted) == 1:
                        outcomes.add((next(iter(granted)), kept is True))
    declared = policy.owner_columns(model).declared()
    for scope, facets in FACETS.items():
        if any(facet in declared for facet in facets):
            assert {(scope, True), (scope, False)} <= outcomes, f"{scope}: a one-sided sample"


async def test_every_owned_model_declares_columns_it_has() -> None:
    for model in OWNED:
        declared = policy.owner_columns(model).declared()
        assert declared, model
        for name in declared.values():
            assert hasattr(model, name), f"{model.__name__}.{name} is declared but missing"


@pytest.mark.parametrize("role", [Role.UNIT, Role.GS])  # a scoped role and an ``any`` one
def test_a_model_without_a_declaration_is_refused(role: Role) -> None:
    actor = Actor(
        principal_id=uuid.uuid4(),
        token_id=uuid.uuid4(),
        agency_id=uuid.uuid4(),
        country="DE",
        role=role,
        name=role.value,
        agency_kind=AgencyKind.GS if role is Role.GS else AgencyKind.UNIT,
    )
    for model in (Country, Message):
        with pytest.raises(TypeError, match="owner_columns"):
            policy.where(actor, Action.READ_DIRECTORY, model)
    with pytest.raises(TypeError, match="owner_columns"):
        policy.permits(actor, Action.READ_DIRECTORY, Country(code="DE", name="Germany"))
    with pytest.raises(TypeError, match="owner_columns"):
        policy.require(actor, Action.READ_DIRECTORY, Country(code="DE", name="Germany"))
