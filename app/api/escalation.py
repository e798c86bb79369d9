"""Escalation policies: the network-wide default and each country's own."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api import problems
from app.api.countries import CountryPath
from app.api.deps import CurrentActor, Session
from app.api.preconditions import IfMatch, with_etag
from app.deadlines import escalation_policies as escalation_service
from app.deadlines.escalation_policy import EscalationPolicyDocument, EscalationPolicyOut

router = APIRouter(prefix="/v1", tags=["directory"])


def _tagged(policy: EscalationPolicyOut, response: Response) -> EscalationPolicyOut:
    response.headers["ETag"] = policy.etag
    return policy


@router.get("/escalation-policy", response_model=EscalationPolicyOut, responses=with_etag())
async def get_default_policy(
    session: Session, actor: CurrentActor, response: Response
) -> EscalationPolicyOut:
    """The network-wide default: what applies to a country without a policy of its own."""
    return _tagged(await escalation_service.get_default(session, actor), response)


@router.put(
    "/escalation-policy",
    response_model=EscalationPolicyOut,
    responses={**with_etag(), **problems.responses(403, 412)},
)
async def replace_default_policy(
    body: EscalationPolicyDocument,
    session: Session,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> EscalationPolicyOut:
    """Replace the network-wide default (the global desk)."""
    policy = await escalation_service.replace_default(session, actor, body, if_match=if_match)
    return _tagged(policy, response)


@router.get(
    "/countries/{cc}/escalation-policy",
    response_model=EscalationPolicyOut,
    responses={**with_etag(), **problems.responses(404)},
)
async def get_country_policy(
    cc: CountryPath, session: Session, actor: CurrentActor, response: Response
) -> EscalationPolicyOut:
    """The policy in effect for requests to a country: its own, or the default it inherits
    (`inherited: true`). The ETag of an inherited policy is `"default-<version>"`."""
    return _tagged(await escalation_service.get_effective(session, actor, cc), response)


@router.put(
    "/countries/{cc}/escalation-policy",
    response_model=EscalationPolicyOut,
    responses={**with_etag(), **problems.responses(403, 404, 412)},
)
async def replace_country_policy(
    cc: CountryPath,
    body: EscalationPolicyDocument,
    session: Session,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> EscalationPolicyOut:
    """Give a country a policy of its own (its NCB, or the global desk)."""
    policy = await escalation_service.replace_for_country(
        session, actor, cc, body, if_match=if_match
    )
    return _tagged(policy, response)


@router.delete(
    "/countries/{cc}/escalation-policy",
    response_model=EscalationPolicyOut,
    responses={**with_etag(), **problems.responses(403, 404, 412)},
)
async def revert_country_policy(
    cc: CountryPath,
    session: Session,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> EscalationPolicyOut:
    """Drop a country's own policy: the default applies again, and is returned."""
    policy = await escalation_service.revert_country(session, actor, cc, if_match=if_match)
    return _tagged(policy, response)
