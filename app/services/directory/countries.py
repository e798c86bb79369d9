"""Countries of the network and their contact-point profiles."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Country


async def ensure_country(session: AsyncSession, code: str, name: str) -> None:
    await session.execute(insert(Country).values(code=code, name=name).on_conflict_do_nothing())
