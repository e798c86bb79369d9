"""/v1/tokens/{prefix}: revoke or rotate one token, named by its public prefix."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from app.api import problems
from app.api.deps import CurrentActor, Session
from app.directory.people_schemas import TokenIssued, TokenOut, TokenRotate
from app.identity import tokens

router = APIRouter(prefix="/v1/tokens", tags=["directory"])

# An answer that carries a token must not be kept by any cache or browser history.
NO_STORE = {"Cache-Control": "no-store"}

Prefix = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{12}$",
        description="The token's prefix: the 12 hex digits after `r247_`",
        examples=["3f9a0c1b2d4e"],
    ),
]


def issued_response() -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a 201 that carries a new token."""
    return {
        201: {
            "description": "The new token, shown this once",
            "headers": {
                "Cache-Control": {"schema": {"type": "string"}, "description": "`no-store`"}
            },
        }
    }


@router.post("/{prefix}/revoke", response_model=TokenOut, responses=problems.responses(403, 404))
async def revoke_token(prefix: Prefix, session: Session, actor: CurrentActor) -> TokenOut:
    """Revoke a token: refused on REST at once, and its open sockets, on every instance, are
    closed with 4001 within RELAY247_TOKEN_CHECK_INTERVAL. Idempotent."""
    return await tokens.revoke_token(session, prefix=prefix, actor=actor)


@router.post(
    "/{prefix}/rotate",
    status_code=201,
    response_model=TokenIssued,
    responses={**problems.responses(403, 404, 409), **issued_response()},
)
async def rotate_token(
    prefix: Prefix,
    session: Session,
    actor: CurrentActor,
    response: Response,
    body: TokenRotate | None = None,
) -> TokenIssued:
    """Replace a working token with a new one (same principal, label and lifetime), shown
    this once. The old one keeps working for `overlap_seconds` (default 900, never past its
    own expiry) so its users can switch without a gap. A revoked, expired or already rotated
    token cannot be rotated (409), nor a dashboard session's (409). A dashboard session may not
    rotate (403): call with your own token."""
    response.headers.update(NO_STORE)
    overlap = (body or TokenRotate()).overlap_seconds
    return await tokens.rotate_token(
        session, prefix=prefix, overlap=timedelta(seconds=overlap), actor=actor
    )
