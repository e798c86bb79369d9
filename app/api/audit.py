"""/v1/audit: what an auditor, or anyone holding a checkpoint, needs to verify it."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentActor, Session
from app.schemas.audit import AuditPublicKeyList
from app.services.audit import keys

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/public-keys", response_model=AuditPublicKeyList)
async def list_public_keys(session: Session, actor: CurrentActor) -> AuditPublicKeyList:
    """The public keys the service signs audit checkpoints with, retired ones included, each
    with its validity: a checkpoint is valid under the key its `key_id` names if it was signed
    within the key's validity. Any authenticated principal may read them: nothing here
    belongs to a country or an agency (docs/audit-chain.md says why not the unauthenticated)."""
    return await keys.published_keys(session)
