"""Bearer tokens of principals: issue, revoke."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFoundError
from app.models import ApiToken
from app.services import audit
from app.services.auth import new_token


async def issue_token(
    session: AsyncSession,
    *,
    principal_id: uuid.UUID,
    label: str = "",
    expires_at: datetime | None = None,
) -> str:
    """Create a token for the principal and return it: the only time it is ever seen."""
    token = new_token()
    session.add(
        ApiToken(
            principal_id=principal_id,
            prefix=token.prefix,
            secret_hash=token.secret_hash,
            label=label,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return token.token


async def revoke_token(session: AsyncSession, *, prefix: str) -> None:
    """Revoke the token with this prefix. It stops working at once on REST, and every open
    socket it authenticated is closed within seconds, on every instance."""
    revoked = await session.scalar(
        update(ApiToken)
        .where(ApiToken.prefix == prefix, ApiToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiToken.id)
    )
    if revoked is None:
        if await session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is None:
            raise NotFoundError(f"no token with prefix {prefix}")
        return  # revoked before: nothing changes
    await audit.record(
        session, None, "token.revoked", object_type="api_token", object_id=str(revoked)
    )
