"""/v1/requests: thin routes, one service call each."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.alerts import timeline
from app.alerts.schemas import AlertPage
from app.api import problems
from app.api.deps import CurrentActor, Session, SettingsOf
from app.api.preconditions import IfMatch, with_etag
from app.approvals.schemas import ApprovalOut
from app.audit import receipts
from app.audit.keys import KeyHolder
from app.audit.schemas import StageReceiptList
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.preconditions import etag
from app.core.primitives import CountryCode, Instant, Text
from app.deadlines import chain
from app.deadlines.chain_schemas import EscalationChainOut
from app.models.enums import Attention, Priority, RequestAction, RequestStatus, RequestType
from app.requests import actions, assignment, detail, intake, lifecycle, search
from app.requests.schemas import (
    AckOut,
    ActionInput,
    ActionOut,
    AssignmentCreate,
    AssignmentOut,
    HistoryPage,
    RequestCreate,
    RequestDetailOut,
    RequestPage,
    SubmittedRequest,
)

router = APIRouter(prefix="/v1/requests", tags=["requests"])


async def _signing_keys(request: Request) -> KeyHolder:
    keys: KeyHolder = request.app.state.signing_keys
    return keys


SigningKeys = Annotated[KeyHolder, Depends(_signing_keys)]

IdempotencyKey = Annotated[
    Annotated[str, Text(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")] | None,
    Header(
        alias="Idempotency-Key",
        description="Retry-safe submission: the same key and body give the first answer again",
    ),
]


@router.post(
    "",
    status_code=201,
    response_model=SubmittedRequest,
    responses={
        202: {
            "model": ApprovalOut,
            "description": "Held for a second officer's approval (four-eyes): not sent yet; "
            "follow it at Location, /v1/approvals/{id}",
        },
        **problems.responses(403, 409),
    },
)
async def submit_request(
    body: RequestCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
    settings: SettingsOf,
    idempotency_key: IdempotencyKey = None,
) -> SubmittedRequest | JSONResponse:
    """Submit a request to another country's 24/7 desk, within the sending agency's access
    agreements (else 403, with the `reason`). It goes to the desk's on-duty primary, or to the
    whole desk and its NCB when nobody is on duty (`assigned_to`, `assignment`). `warnings`
    says what the sender should know about how the desk can handle this type. A replay of an
    Idempotency-Key (within RELAY247_IDEMPOTENCY_KEY_LIFETIME) answers 201 again with the request
    it made as it stands now (purged: `content` null, `purged_at` set), with the header
    `Idempotent-Replayed: true`. An emergency disclosure that the sending agency's agreement
    or its country's policy puts under four-eyes is answered 202 with the held request
    (docs/four-eyes.md): it is sent, as the request of the same id, once approved."""
    submission = await intake.submit(
        session,
        actor,
        body,
        idempotency_key=idempotency_key,
        api=settings.api,
        exchange=settings.exchange,
    )
    replayed = {"Idempotent-Replayed": "true"} if submission.replayed else {}
    if submission.request is None:
        assert submission.held is not None
        return JSONResponse(
            jsonable_encoder(submission.held),
            status_code=202,
            headers={"Location": f"/v1/approvals/{submission.held.id}", **replayed},
        )
    response.headers["Location"] = f"/v1/requests/{submission.request.id}"
    response.headers.update(replayed)
    return submission.request


@router.get("", response_model=RequestPage)
async def list_requests(
    session: Session,
    actor: CurrentActor,
    status: Annotated[list[RequestStatus] | None, Query()] = None,
    type: Annotated[list[RequestType] | None, Query()] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    target_country: CountryCode | None = None,
    requesting_country: CountryCode | None = None,
    created_after: Instant | None = None,
    created_before: Instant | None = None,
    attention: Annotated[
        list[Attention] | None,
        Query(
            description="Only requests that need attention beyond their desk: `escalated` "
            "(moved past the first step of their escalation policy) or `overdue` "
            "(unacknowledged past the last step, or unanswered past the response deadline). "
            "Repeat it for either."
        ),
    ] = None,
    assigned_to_me: Annotated[
        bool,
        Query(description="true: only the requests assigned to you (that you hold)"),
    ] = False,
    q: Annotated[
        Annotated[str, Text(max_length=search.QUERY_MAX)] | None,
        Query(
            description="Search: the requests whose `headline` has words starting with each "
            "word of `q`, in any case (`ransom hosp` finds 'Ransomware on a hospital'); "
            "text without letters or digits is looked for as it is, anywhere in the headline; "
            "a request's id (a UUID) finds that request. Only among the requests you may see; "
            f"at most {search.QUERY_MAX} characters; blank: no search"
        ),
    ] = None,
    drill: Annotated[
        bool | None,
        Query(
            description="Readiness drills (`drill_id` set): true only drills, false none; "
            "absent: both. A list by `requesting_country` never shows drills, which are "
            "nobody's requests"
        ),
    ] = None,
    content: Annotated[
        bool,
        Query(
            description="false: metadata only, `content` null for every item, and no audited "
            "read (what a list that only glances at requests should ask for). true (the "
            "default): each item's content where you may read it, each such read audited"
        ),
    ] = True,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> RequestPage:
    """The requests you may see, newest first, filtered. Filters of different names all
    apply; the values of one repeated filter are alternatives. `attention=escalated&
    attention=overdue&status=…` (the open statuses) is what the global desk watches: every
    open request of the network that escalated or ran late. A request keeps its escalation
    and lateness once acknowledged: `status` says whether it is still open. Pass the same
    filters with `cursor` for the next page."""
    filters = search.RequestFilter(
        statuses=status or [],
        types=type or [],
        priorities=priority or [],
        target_country=target_country,
        requesting_country=requesting_country,
        created_after=created_after,
        created_before=created_before,
        attention=attention or [],
        assigned_to=actor.principal_id if assigned_to_me else None,
        query=q.strip() if q and q.strip() else None,
        drills=drill,
    )
    return await search.list_requests(
        session, actor, filters, cursor=cursor, limit=limit, with_content=content
    )


@router.get(
    "/{request_id}",
    response_model=RequestDetailOut,
    responses={**with_etag(), **problems.responses(404)},
)
async def get_request(
    request_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    response: Response,
    settings: SettingsOf,
    content: Annotated[
        bool,
        Query(
            description="`false`: the metadata only (`content` null), which is no content "
            "read and is not audited: what a page open on the request refreshes when an event "
            "says its state changed."
        ),
    ] = True,
) -> RequestDetailOut:
    """The request, with its content if its handling code lets you read it (an audited read).
    The `ETag` is its `version`: send it back as `If-Match` with an action."""
    shown = await detail.get(
        session,
        actor,
        request_id,
        reopen_window=settings.exchange.reopen_window,
        with_content=content,
    )
    response.headers["ETag"] = etag(shown.version)
    return shown


@router.post(
    "/{request_id}/ack", response_model=AckOut, responses=problems.responses(403, 404, 409)
)
async def acknowledge_request(
    request_id: uuid.UUID, session: Session, actor: CurrentActor, settings: SettingsOf
) -> AckOut:
    """Say that a human at the target desk has seen the request (the `acknowledge` action).
    Idempotent: a second ack changes nothing and answers `already_acknowledged: true`."""
    return await actions.acknowledge(
        session, actor, request_id, reopen_window=settings.exchange.reopen_window
    )


@router.post(
    "/{request_id}/assign",
    response_model=AssignmentOut,
    responses=problems.responses(403, 404, 409),
)
async def assign_request(
    request_id: uuid.UUID, body: AssignmentCreate, session: Session, actor: CurrentActor
) -> AssignmentOut:
    """Hand the request to another active contact point of its target desk. The old and the
    new assignee and the desk are told (`request.assigned`)."""
    return await assignment.assign(session, actor, request_id, body.principal_id)


Cursor = Annotated[Annotated[str, Text(max_length=512)] | None, Query()]

_ACTIONS_DESCRIPTION = f"""Take an action on the request, as the side you act for: the target
side (the target desk's contact points, its NCB, the global desk) or the requester side (the
sending agency). The state machine, one row per (state, action):

{lifecycle.render_table()}
A reason is required where the table says so; it is kept in the history, never in pushes or
the audit trail. A closed request may be reopened within the reopen window after it was closed
(`RELAY247_REOPEN_WINDOW`, 30 days by default); a purged request takes no action.

Refusals: 404 when you may not see the request; 403 when you act for neither side or the action
is the other side's; 412 when `If-Match` names an older version; 409 when the request's state
does not allow it (the problem says `current_status`, `allowed_actions` for your side and
`version`). Both sides hear `request.updated` (`request.acknowledged` for an acknowledgement).
The response's `ETag` is the new version."""


@router.post(
    "/{request_id}/actions/{action}",
    response_model=ActionOut,
    summary="Act on a request: acknowledge, start, ask, answer, respond, decline, close...",
    description=_ACTIONS_DESCRIPTION,
    responses={**with_etag(), **problems.responses(403, 404, 409, 412, 422)},
)
async def act_on_request(
    request_id: uuid.UUID,
    action: RequestAction,
    session: Session,
    actor: CurrentActor,
    response: Response,
    settings: SettingsOf,
    body: Annotated[ActionInput | None, Body()] = None,
    if_match: IfMatch = None,
) -> ActionOut:
    taken = await actions.perform(
        session,
        actor,
        request_id,
        action,
        reason=body.reason if body is not None else None,
        if_match=if_match,
        reopen_window=settings.exchange.reopen_window,
    )
    response.headers["ETag"] = etag(taken.version)
    return taken


@router.get(
    "/{request_id}/history", response_model=HistoryPage, responses=problems.responses(404, 422)
)
async def request_history(
    request_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    after_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            description="Only the steps after this `id`: what a page that has shown the "
            "history up to it reads when told of a new step, without reading (and auditing) "
            "the reasons again. Not with `cursor`",
        ),
    ] = None,
) -> HistoryPage:
    """Every step of the request's life, oldest first, from its submission (`action` null).
    `reason` is shown to who may read the request's content (by its handling code), and such a
    read is audited; `has_reason` says whether there was one. `actor` names who took it."""
    return await actions.history(
        session, actor, request_id, cursor=cursor, limit=limit, after_id=after_id
    )


@router.get(
    "/{request_id}/alerts", response_model=AlertPage, responses=problems.responses(404, 422)
)
async def request_alerts(
    request_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AlertPage:
    """Who was alerted about the request, oldest first: each alert to a person's contact
    method (and each withdrawal of a notification once it was acknowledged), by which route,
    when, and whether it arrived, with its last attempt's outcome
    (docs/alerts-and-webhooks.md). For whoever sees the request; a person's name only where
    you may see that person, else their role and country. Never an address nor content."""
    return await timeline.alerts_of(session, actor, request_id, cursor=cursor, limit=limit)


@router.get(
    "/{request_id}/escalation-chain",
    response_model=EscalationChainOut,
    responses=problems.responses(404),
)
async def escalation_chain(
    request_id: uuid.UUID, session: Session, actor: CurrentActor
) -> EscalationChainOut:
    """Every step of the target's escalation policy (the one in force now) as it applies to
    the request: whom each step reaches (a person by name where you may see them, else by
    role; or a desk: the NCB, the global desk), when it fired or will fire unless someone
    acknowledges first (from the pending deadline and the policy's timeouts), which step
    holds it now, and who was alerted at each (push, e-mail, gateway; once per person). For
    whoever sees the request, auditors included: metadata only, never an audited read."""
    return await chain.chain_of(session, actor, request_id)


@router.get(
    "/{request_id}/receipts",
    response_model=StageReceiptList,
    responses=problems.responses(403, 404),
)
async def stage_receipts(
    request_id: uuid.UUID, session: Session, actor: CurrentActor, keys: SigningKeys
) -> StageReceiptList:
    """For each stage the request has passed (submitted, delivered, acknowledged, responded,
    declined, closed, cancelled), a receipt signed by the service naming the request, the
    stage, its time, its audit entry's chain position and hash and the content hash; a stage
    whose entry is not sealed yet is `pending`. For the requester side (its unit and NCB),
    the global desk and auditors. Verify offline with GET /v1/audit/public-keys
    (docs/audit-chain.md)."""
    return await receipts.request_receipts(session, actor, request_id, keys)
