"""/v1/me: who the caller is."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentActor, Session
from app.directory import principals
from app.directory.people_schemas import MeOut

router = APIRouter(prefix="/v1/me", tags=["directory"])


@router.get("", response_model=MeOut)
async def who_am_i(session: Session, actor: CurrentActor) -> MeOut:
    """The principal the token belongs to, its role and agency, and the token's prefix and
    expiry: what a system checks at start, and what to look up before rotating."""
    return await principals.describe_caller(session, actor)
