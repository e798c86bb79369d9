"""A streamed response whose client must keep taking it: what an audit export and a file
download share.

uvicorn's send waits, before writing, until the transport's buffer drains below its high
mark: a client that stops reading keeps that wait going until TCP gives up, hours later, and
with it the response's slot of RELAY247_MAX_IN_FLIGHT (and whatever else the stream holds).
Each send is therefore bounded; past the bound the stream stops and the connection is dropped
(app/core/serving.py, ConnectionAbort): the client has less than the whole, and can tell.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from app.core.serving import abort_of


class ClientStalled(Exception):
    """A send waited out the send timeout: the client made no room for the next chunk."""


class SendBoundResponse(StreamingResponse):
    """Streams ``chunks``; a send that does not complete within ``send_timeout`` seconds ends
    it: ``stalled()`` is told, the connection dropped, and ``chunks`` closed however the
    stream ends."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        send_timeout: float,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(chunks, media_type=media_type, headers=headers)
        self._chunks = chunks
        self.send_timeout = send_timeout

    def stalled(self) -> None:
        """Called once, when a send timed out, before the connection is dropped."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        timeout = self.send_timeout

        async def bounded_send(message: Message) -> None:
            try:
                async with asyncio.timeout(timeout):
                    await send(message)
            except TimeoutError:
                raise ClientStalled from None

        try:
            await super().__call__(scope, receive, bounded_send)
        except ClientStalled:
            self.stalled()
            abort = abort_of(scope)
            if abort is not None:
                abort()
        finally:
            # Stopped at a chunk, the generator may still hold a transaction: closing it ends
            # that and returns the connection now, not when it is collected.
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                await aclose()
