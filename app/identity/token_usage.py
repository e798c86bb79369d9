"""When each token was last used, written in batches instead of on every request.

Authentication is the hot path: an UPDATE per request would turn every read into a write and
make concurrent calls with one token wait on each other's row lock. Instead each process notes
the tokens it saw in memory and writes them all with one statement every
RELAY247_TOKEN_USAGE_FLUSH_INTERVAL (and once more when it shuts down). So ``last_used_at``
is accurate to that interval: the token was used at most that long before the time shown.

A token that holds an open socket counts as in use at every flush: a dashboard left open for
days is using its token, and must not look abandoned to whoever tidies tokens up.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable

from sqlalchemy import Uuid, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.supervisor import Heartbeat
from app.models import ApiToken, table_of

_tokens = table_of(ApiToken)
_IDS = bindparam("ids", type_=ARRAY(Uuid))
# The rows are locked in id order first, so two instances flushing overlapping sets at the
# same moment cannot deadlock on each other. A row held by a write on its token's authority
# (FOR SHARE, app/identity/auth.py) is skipped and written at the next flush: waiting for it
# would keep the rows locked before it from every write of their tokens meanwhile.
_FLUSH = (
    update(_tokens)
    .where(
        _tokens.c.id.in_(
            select(_tokens.c.id)
            .where(_tokens.c.id == any_(_IDS))
            .order_by(_tokens.c.id)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    )
    .values(last_used_at=func.now())
    .returning(_tokens.c.id)
)


class TokenUsage:
    """The tokens this process has seen since its last flush."""

    def __init__(self) -> None:
        self._seen: set[uuid.UUID] = set()

    def mark(self, token_id: uuid.UUID) -> None:
        """Note a use. Memory only: never waits, never fails."""
        self._seen.add(token_id)

    def pending(self) -> int:
        return len(self._seen)

    async def flush(self, engine: AsyncEngine, also: Iterable[uuid.UUID] = ()) -> int:
        """Write every noted use (and the tokens in ``also``) in one statement; how many
        tokens were written. On failure the uses are kept for the next flush."""
        batch, self._seen = self._seen | set(also), set()
        if not batch:
            return 0
        try:
            async with engine.begin() as connection:
                written = set((await connection.scalars(_FLUSH, {"ids": sorted(batch)})).all())
        except BaseException:
            self._seen |= batch
            raise
        self._seen |= batch - written  # skipped, held by a write: next time
        return len(written)

    async def run(
        self,
        beat: Heartbeat,
        *,
        engine: AsyncEngine,
        interval: float,
        in_use: Callable[[], Iterable[uuid.UUID]] = tuple,
    ) -> None:
        """Supervised loop: flush every ``interval`` seconds. ``in_use`` gives the tokens of
        the open sockets."""
        beat()  # nothing to wait for before the first interval: up from the start
        while True:
            await asyncio.sleep(interval)
            await self.flush(engine, in_use())
            beat()
